// Command user-lookup is a stage of the social-compose sample workflow. It
// loads the user directory — a synthetic one of the request's size, built
// deterministically from its seed, as a cache would hold it: every user's
// record and an index by username — resolves the post's author and
// @mentions, and lists the author's followers for the timeline fan-out.
// Building the directory allocates in proportion to its size, so the stage
// depends on memory as well as CPU; records and the follower scan are
// spread over the sandbox's CPUs.
package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// post is what user-lookup reads of compose-post's output.
type post struct {
	Seed     uint64   `json:"seed"`
	Users    int      `json:"users"`
	Author   string   `json:"author"`
	Mentions []string `json:"mentions"`
}

// user is one record of the directory.
type user struct {
	ID        int    `json:"id"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	Verified  bool   `json:"verified"`
	Followers int    `json:"followers"` // expected followers in a directory of 100,000
}

// mention is one resolved @mention.
type mention struct {
	Username string `json:"username"`
	Found    bool   `json:"found"`
	ID       int    `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
}

// response is the author, the mentions and the author's followers.
type response struct {
	Author    user      `json:"author"`
	Mentions  []mention `json:"mentions"`
	Followers []int     `json:"followers"` // ids, ascending
}

func main() { fnkit.Main("user-lookup", handle) }

// handle loads the directory and looks the post's users up.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var p post
	if err := fnkit.DecodeJSON(input, &p, `compose-post's output: {"seed", "users", "author", "mentions", ...}`); err != nil {
		return nil, err
	}
	if p.Users < 1 || p.Users > 1_000_000 {
		return nil, fmt.Errorf("%w: users must be 1..1000000, got %d", fnkit.ErrBadInput, p.Users)
	}
	users, byName, err := directory(ctx, p.Seed, p.Users)
	if err != nil {
		return nil, err
	}
	aid, ok := byName[p.Author]
	if !ok {
		return nil, fmt.Errorf("%w: author %q is not in the directory of %d users (seed %d)", fnkit.ErrBadInput, p.Author, p.Users, p.Seed)
	}
	out := response{Author: users[aid], Mentions: make([]mention, len(p.Mentions))}
	for i, name := range p.Mentions {
		out.Mentions[i] = mention{Username: name}
		if id, ok := byName[name]; ok {
			out.Mentions[i] = mention{Username: name, Found: true, ID: id, Name: users[id].Name}
		}
	}
	if out.Followers, err = followers(ctx, p.Seed, users, aid); err != nil {
		return nil, err
	}
	return fnkit.EncodeJSON(out)
}

// directory builds every user's record, in parallel, and the index by
// username (the lowest id wins a repeated handle).
func directory(ctx context.Context, seed uint64, n int) ([]user, map[string]int, error) {
	users := make([]user, n)
	const chunk = 4096
	err := fnkit.ForEach(ctx, (n+chunk-1)/chunk, func(c int) {
		for id := c * chunk; id < min(n, (c+1)*chunk); id++ {
			name := social.Username(seed, id)
			users[id] = user{
				ID: id, Username: name, Name: displayName(name),
				Verified:  social.Hash(seed, 0x766572, uint64(id))%50 == 0,
				Followers: social.Popularity(seed, id),
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	byName := make(map[string]int, n)
	for id := n - 1; id >= 0; id-- {
		byName[users[id].Username] = id
	}
	return users, byName, nil
}

// displayName turns "kasume_42" into "Kasume 42".
func displayName(username string) string {
	word, num, _ := strings.Cut(username, "_")
	return strings.ToUpper(word[:1]) + word[1:] + " " + num
}

// followers scans the directory for the users who follow author.
func followers(ctx context.Context, seed uint64, users []user, author int) ([]int, error) {
	const chunk = 8192
	parts := make([][]int, (len(users)+chunk-1)/chunk)
	pop := users[author].Followers
	err := fnkit.ForEach(ctx, len(parts), func(c int) {
		for id := c * chunk; id < min(len(users), (c+1)*chunk); id++ {
			if social.Follows(seed, id, author, pop) {
				parts[c] = append(parts[c], id)
			}
		}
	})
	out := slices.Concat(parts...)
	if out == nil {
		out = []int{}
	}
	return out, err
}

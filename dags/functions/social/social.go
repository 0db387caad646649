// Package social holds what the social-compose sample's functions share: the
// post that compose-post writes and the stages after it read, the synthetic
// user directory every stage derives from the request's seed, snowflake post
// ids, and a fast deterministic hash.
package social

import (
	"fmt"
	"strconv"
	"strings"
)

// Post is compose-post's output: the parsed post that text-filter,
// media-filter, unique-id, user-lookup, url-shorten and store-post read.
type Post struct {
	Seed      uint64   `json:"seed"`      // seed of the synthetic world (users, histories)
	Users     int      `json:"users"`     // size of the user directory
	Shards    int      `json:"shards"`    // timeline-store shards the followers are spread over
	Author    string   `json:"author"`    // the author's username
	Timestamp int64    `json:"timestamp"` // milliseconds since the Unix epoch
	Text      string   `json:"text"`
	Words     int      `json:"words"`
	Mentions  []string `json:"mentions"` // usernames, without "@", in order of first use
	Hashtags  []string `json:"hashtags"` // lower case, without "#"
	URLs      []string `json:"urls"`
	Media     []Media  `json:"media"` // never null: [] when the post has none
}

// Media is one attached picture: a PNG, which JSON carries base64-encoded.
type Media struct {
	Index  int    `json:"index"`
	Kind   string `json:"kind"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	PNG    []byte `json:"png"`
}

// Mix is the SplitMix64 finaliser: a fast, well-spread 64-bit hash.
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Hash mixes seed and parts into one 64-bit value.
func Hash(seed uint64, parts ...uint64) uint64 {
	h := Mix(seed + 0x9e3779b97f4a7c15)
	for _, p := range parts {
		h = Mix(h ^ (p + 0x9e3779b97f4a7c15))
	}
	return h
}

// HashString is FNV-1a of s, for mixing strings into Hash.
func HashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// syllables make pronounceable usernames.
var syllables = []string{"ba", "to", "ne", "ri", "lo", "ka", "su", "me", "di", "an", "el", "or", "ul", "ste", "pra", "ve", "qui", "zo", "ha", "ny", "mar", "tin", "jo", "sa"}

// Username is user id's handle in the directory of seed: two to four
// syllables and two digits, e.g. "kasume_42". Handles may repeat; the
// directory keeps the lowest id for each.
func Username(seed uint64, id int) string {
	h := Hash(seed, 0x75736572, uint64(id))
	var b strings.Builder
	for i := range 2 + int(h%3) {
		b.WriteString(syllables[(h>>(8+5*i))%uint64(len(syllables))])
	}
	b.WriteByte('_')
	b.WriteString(strconv.Itoa(int(h>>40) % 100))
	return b.String()
}

// Popularity is how many followers in 100,000 users user id has in the
// directory of seed: a heavy-tailed draw, as follower counts are.
func Popularity(seed uint64, id int) int {
	u := float64(Hash(seed, 0x706f70, uint64(id))>>11) / (1 << 53)
	// Pareto tail: most users have a few dozen followers, a few have many.
	return min(int(20/(1-u*0.995)), 5000)
}

// Follows reports whether user follower follows user followee, who has
// the given popularity (followers per 100,000 users).
func Follows(seed uint64, follower, followee, popularity int) bool {
	return follower != followee && Hash(seed, 0x666f6c, uint64(follower), uint64(followee))%100_000 < uint64(popularity)
}

// Snowflake epoch: 2020-01-01T00:00:00Z in milliseconds.
const SnowflakeEpoch = 1577836800000

// PostID packs a snowflake id: 41 bits of milliseconds since
// SnowflakeEpoch, 10 bits of machine, 12 bits of sequence.
func PostID(timestamp int64, machine, sequence uint64) uint64 {
	return uint64(timestamp-SnowflakeEpoch)<<22 | (machine&1023)<<12 | sequence&4095
}

// SplitPostID unpacks a snowflake id.
func SplitPostID(id uint64) (timestamp int64, machine, sequence uint64) {
	return int64(id>>22) + SnowflakeEpoch, id >> 12 & 1023, id & 4095
}

// ParsePostID parses a post id as JSON carries it: a decimal string (ids
// exceed the 2^53 a JSON number keeps exact).
func ParsePostID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("post id %q is not a positive decimal 64-bit number", s)
	}
	return id, nil
}

// Command respond-post is the last stage of the social-compose sample
// workflow. It checks that the fan-out delivered the post to every
// follower it was meant for, counts the shards that failed (their
// elements carry an error value, as onError: continue passes them on), and
// answers the client with the stored post, the delivery summary and a
// receipt: the SHA-256 over the post id and every checksum written.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"baton.dev/baton/dags/functions/fnkit"
)

// input is the object of the stages respond-post needs, keyed by stage name.
type input struct {
	Store         *storeOutput      `json:"store"`
	HomeTimelines []json.RawMessage `json:"home-timelines"`
	UserTimeline  *json.RawMessage  `json:"user-timeline"`
}

// storeOutput is what respond-post reads of store-post's output.
type storeOutput struct {
	PostID    string          `json:"post_id"`
	Record    json.RawMessage `json:"record"`
	Stored    json.RawMessage `json:"stored"`
	Followers int             `json:"followers"`
	Shards    []struct {
		Shard     int   `json:"shard"`
		Followers []int `json:"followers"`
	} `json:"shards"`
}

// shardResult is one element of write-home-timeline's output, or its error.
type shardResult struct {
	Shard           int    `json:"shard"`
	Followers       int    `json:"followers"`
	Inserted        int    `json:"inserted"`
	CompressedBytes int    `json:"compressed_bytes"`
	CRC32C          string `json:"crc32c"`
	Error           *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// userTimeline is what respond-post reads of write-user-timeline's output.
type userTimeline struct {
	Position int    `json:"position"`
	Length   int    `json:"length"`
	Pages    int    `json:"pages"`
	CRC32C   string `json:"crc32c"`
}

// Delivery summarises the fan-out.
type Delivery struct {
	Followers    int   `json:"followers"`
	Shards       int   `json:"shards"`
	Delivered    int   `json:"delivered"`     // home timelines written
	FailedShards []int `json:"failed_shards"` // shards to retry later
	HomeBytes    int   `json:"home_bytes"`
}

// response is the workflow's answer.
type response struct {
	PostID       string          `json:"post_id"`
	Post         json.RawMessage `json:"post"`
	Stored       json.RawMessage `json:"stored"`
	Delivery     Delivery        `json:"delivery"`
	UserTimeline *userTimeline   `json:"user_timeline"`
	Receipt      string          `json:"receipt"`
}

func main() { fnkit.Main("respond-post", handle) }

// handle checks the delivery and writes the answer.
func handle(ctx context.Context, in []byte) ([]byte, error) {
	var req input
	if err := fnkit.DecodeJSON(in, &req, `{"store", "home-timelines", "user-timeline"}: the outputs of the stages respond-post needs`); err != nil {
		return nil, err
	}
	s := req.Store
	if s == nil || s.PostID == "" {
		return nil, fmt.Errorf("%w: store: no stored post", fnkit.ErrBadInput)
	}
	if len(req.HomeTimelines) != len(s.Shards) {
		return nil, fmt.Errorf("%w: home-timelines: %d results for %d shards", fnkit.ErrBadInput, len(req.HomeTimelines), len(s.Shards))
	}
	h := sha256.New()
	h.Write([]byte(s.PostID))
	h.Write(s.Stored)
	d := Delivery{Followers: s.Followers, Shards: len(s.Shards), FailedShards: []int{}}
	for i, raw := range req.HomeTimelines {
		var r shardResult
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("%w: home-timelines[%d]: %w", fnkit.ErrBadInput, i, err)
		}
		if r.Error != nil {
			d.FailedShards = append(d.FailedShards, s.Shards[i].Shard)
			continue
		}
		if r.Shard != s.Shards[i].Shard || r.Followers != len(s.Shards[i].Followers) {
			return nil, fmt.Errorf("%w: home-timelines[%d]: shard %d wrote %d followers; store-post sent shard %d with %d",
				fnkit.ErrBadInput, i, r.Shard, r.Followers, s.Shards[i].Shard, len(s.Shards[i].Followers))
		}
		d.Delivered += r.Inserted
		d.HomeBytes += r.CompressedBytes
		h.Write([]byte(r.CRC32C))
	}
	out := response{PostID: s.PostID, Post: s.Record, Stored: s.Stored, Delivery: d}
	if req.UserTimeline != nil {
		var u userTimeline
		var e struct {
			Error any `json:"error"`
		}
		if json.Unmarshal(*req.UserTimeline, &e) == nil && e.Error == nil {
			if err := json.Unmarshal(*req.UserTimeline, &u); err != nil {
				return nil, fmt.Errorf("%w: user-timeline: %w", fnkit.ErrBadInput, err)
			}
			out.UserTimeline = &u
			h.Write([]byte(u.CRC32C))
		}
	}
	out.Receipt = hex.EncodeToString(h.Sum(nil))
	return fnkit.EncodeJSON(out)
}

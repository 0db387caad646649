// Command write-home-timeline is the fan-out stage of the social-compose
// sample workflow, run once per timeline-store shard. For every follower in
// its shard it loads the follower's home timeline (the newest post ids of
// the accounts they follow, newest first; synthetic, derived from the
// seed), inserts the new post in id order, evicts what falls off the end,
// and writes the shard back as a segment of delta-encoded, DEFLATE-
// compressed timelines with a CRC-32C. Followers are processed over the
// sandbox's CPUs; compressors (a window and tables each) are pooled.
package main

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// Capacity is how many posts a home timeline keeps.
const Capacity = 500

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writers reuses compressors (each holds a window and tables of about a
// megabyte) across the followers a worker processes.
var writers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.DefaultCompression) // fails only for a bad level
	return w
}}

// shard is one element of store-post's shards.
type shard struct {
	Shard     int    `json:"shard"`
	Seed      uint64 `json:"seed"`
	PostID    string `json:"post_id"`
	Timestamp int64  `json:"timestamp"`
	Followers []int  `json:"followers"`
}

// response is what the shard wrote.
type response struct {
	Shard           int    `json:"shard"`
	Followers       int    `json:"followers"`
	Inserted        int    `json:"inserted"` // timelines the post entered
	Evicted         int    `json:"evicted"`  // posts that fell off the end
	RawBytes        int    `json:"raw_bytes"`
	CompressedBytes int    `json:"compressed_bytes"`
	CRC32C          string `json:"crc32c"`
}

func main() { fnkit.Main("write-home-timeline", handle) }

// handle writes the post into the home timelines of one shard.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var s shard
	if err := fnkit.DecodeJSON(input, &s, `one of store-post's shards: {"shard", "seed", "post_id", "timestamp", "followers"}`); err != nil {
		return nil, err
	}
	post, err := social.ParsePostID(s.PostID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", fnkit.ErrBadInput, err)
	}
	if len(s.Followers) > 100_000 {
		return nil, fmt.Errorf("%w: followers: %d in one shard; the limit is 100000", fnkit.ErrBadInput, len(s.Followers))
	}
	type written struct {
		raw, packed int
		segment     []byte
		inserted    bool
		evicted     int
		err         error
	}
	res := make([]written, len(s.Followers))
	err = fnkit.ForEach(ctx, len(s.Followers), func(i int) {
		tl := load(s.Seed, s.Followers[i], s.Timestamp)
		tl, ins, ev := insert(tl, post)
		raw := encode(tl)
		var buf bytes.Buffer
		w := writers.Get().(*flate.Writer)
		w.Reset(&buf)
		_, err := w.Write(raw)
		if err == nil {
			err = w.Close()
		}
		writers.Put(w)
		res[i] = written{raw: len(raw), packed: buf.Len(), segment: buf.Bytes(), inserted: ins, evicted: ev, err: err}
	})
	if err != nil {
		return nil, err
	}
	out := response{Shard: s.Shard, Followers: len(s.Followers)}
	crc := uint32(0)
	for i, r := range res {
		if r.err != nil {
			return nil, fmt.Errorf("follower %d: compress timeline: %w", s.Followers[i], r.err)
		}
		out.RawBytes += r.raw
		out.CompressedBytes += r.packed
		out.Evicted += r.evicted
		if r.inserted {
			out.Inserted++
		}
		crc = crc32.Update(crc, castagnoli, r.segment)
	}
	out.CRC32C = fmt.Sprintf("%08x", crc)
	return fnkit.EncodeJSON(out)
}

// load returns follower's home timeline as of now: Capacity post ids,
// newest first, of posts from the past few days.
func load(seed uint64, follower int, now int64) []uint64 {
	tl := make([]uint64, Capacity)
	ts := now - int64(social.Hash(seed, 0x6b6d, uint64(follower))%600_000)
	for k := range tl {
		h := social.Hash(seed, uint64(follower), uint64(k))
		tl[k] = social.PostID(ts, h>>20%1024, h%4096)
		ts -= 1 + int64(h>>32%900_000) // up to 15 minutes apart
	}
	return tl
}

// insert puts id into the newest-first timeline tl at its place, keeping
// Capacity entries; it reports whether id went in and how many ids fell off.
func insert(tl []uint64, id uint64) ([]uint64, bool, int) {
	i, found := slices.BinarySearchFunc(tl, id, func(a, b uint64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	if found || i >= Capacity {
		return tl, false, 0
	}
	tl = slices.Insert(tl, i, id)
	evicted := len(tl) - Capacity
	return tl[:Capacity], true, evicted
}

// encode writes a newest-first timeline as its first id and the uvarint
// gaps between neighbours.
func encode(tl []uint64) []byte {
	b := make([]byte, 0, 8+len(tl)*5)
	b = binary.BigEndian.AppendUint64(b, tl[0])
	for k := 1; k < len(tl); k++ {
		b = binary.AppendUvarint(b, tl[k-1]-tl[k])
	}
	return b
}

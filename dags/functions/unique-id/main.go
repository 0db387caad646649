// Command unique-id is a stage of the social-compose sample workflow. It
// gives the post a snowflake id — 41 bits of milliseconds, 10 of machine
// (from the author, so one author's posts stay in order on one machine), 12
// of sequence (from the post's content fingerprint) — and makes sure the id
// was not issued before: it loads the machine's recent issue log (synthetic,
// derived from the seed) into a Bloom filter and moves the sequence on while
// the filter may hold the id. Loading the log is the work: hashing and a
// filter of several megabytes, so the stage depends on memory bandwidth as
// well as CPU; the filter is filled over the sandbox's CPUs.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// Issue log and Bloom filter sizes.
const (
	logEntries  = 250_000 // ids the machine issued in the window
	bitsPerID   = 16
	bloomHashes = 9
)

// post is what unique-id reads of compose-post's output.
type post struct {
	Seed      uint64         `json:"seed"`
	Author    string         `json:"author"`
	Timestamp int64          `json:"timestamp"`
	Text      string         `json:"text"`
	Media     []social.Media `json:"media"`
}

// response is the post's id and how it was chosen.
type response struct {
	PostID      string `json:"post_id"` // decimal: ids exceed JSON's exact 2^53
	Timestamp   int64  `json:"timestamp"`
	Machine     uint64 `json:"machine"`
	Sequence    uint64 `json:"sequence"`
	Fingerprint string `json:"fingerprint"` // SHA-256 of author, text and media
	Probes      int    `json:"probes"`      // ids tried before a free one
	LogEntries  int    `json:"log_entries"`
}

func main() { fnkit.Main("unique-id", handle) }

// handle issues the post's id.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var p post
	if err := fnkit.DecodeJSON(input, &p, `compose-post's output: {"seed", "author", "timestamp", "text", "media", ...}`); err != nil {
		return nil, err
	}
	if p.Timestamp <= social.SnowflakeEpoch || p.Timestamp >= social.SnowflakeEpoch+1<<41 {
		return nil, fmt.Errorf("%w: timestamp %d is not milliseconds since the epoch after 2020", fnkit.ErrBadInput, p.Timestamp)
	}
	if p.Author == "" {
		return nil, fmt.Errorf("%w: author is empty", fnkit.ErrBadInput)
	}
	h := sha256.New()
	h.Write([]byte(p.Author + "\x00" + p.Text))
	for _, m := range p.Media {
		h.Write(m.PNG)
	}
	fp := h.Sum(nil)
	machine := social.HashString(p.Author) % 1024
	seq := social.Hash(p.Seed, uint64(fp[0])<<8|uint64(fp[1])) % 4096

	f, err := loadLog(ctx, p.Seed, machine, p.Timestamp)
	if err != nil {
		return nil, err
	}
	out := response{Timestamp: p.Timestamp, Machine: machine, Fingerprint: hex.EncodeToString(fp), LogEntries: logEntries}
	for {
		id := social.PostID(p.Timestamp, machine, seq)
		out.Probes++
		if !f.has(id) {
			out.PostID, out.Sequence = strconv.FormatUint(id, 10), seq
			break
		}
		if out.Probes == 4096 {
			return nil, fmt.Errorf("no free sequence number for machine %d at %d", machine, p.Timestamp)
		}
		seq = (seq + 1) % 4096
	}
	return fnkit.EncodeJSON(out)
}

// bloom is a Bloom filter over 64-bit ids.
type bloom struct{ bits []atomic.Uint64 }

// positions returns the k bit positions of id (double hashing).
func (b *bloom) position(id uint64, k int) uint64 {
	h1, h2 := social.Mix(id), social.Mix(id^0x5bd1e995)|1
	return (h1 + uint64(k)*h2) % uint64(len(b.bits)*64)
}

func (b *bloom) add(id uint64) {
	for k := range bloomHashes {
		p := b.position(id, k)
		b.bits[p/64].Or(1 << (p % 64))
	}
}

func (b *bloom) has(id uint64) bool {
	for k := range bloomHashes {
		p := b.position(id, k)
		if b.bits[p/64].Load()&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// loadLog fills a Bloom filter with the ids machine issued in the window
// before now: logEntries ids, a few per millisecond, up to and including
// now's millisecond.
func loadLog(ctx context.Context, seed, machine uint64, now int64) (*bloom, error) {
	f := &bloom{bits: make([]atomic.Uint64, logEntries*bitsPerID/64)}
	const chunk = 8192
	err := fnkit.ForEach(ctx, (logEntries+chunk-1)/chunk, func(c int) {
		for i := c * chunk; i < min(logEntries, (c+1)*chunk); i++ {
			ts := now - int64(i/3)
			seq := social.Hash(seed, machine, uint64(i)) % 4096
			f.add(social.PostID(ts, machine, seq))
		}
	})
	return f, err
}

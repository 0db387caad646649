// Command store-post is the fan-in stage of the social-compose sample
// workflow. It joins what the parallel stages found — the id, the resolved
// users, the filtered text, the short links, the checked media — into the
// post's record, and writes the record and its media as a block-compressed
// blob, as a key-value store's table file holds it: 64 KiB blocks, each
// DEFLATE-compressed at the best level and checksummed (CRC-32C), then read
// back and verified. Blocks are compressed over the sandbox's CPUs; each
// compressor allocates its own window and tables. It then spreads the
// author's followers over the timeline store's shards for the fan-out.
//
// text-filter, media-filter and url-shorten may have been skipped (null) or
// have failed with onError: continue ({"error": ...}); the post is stored
// anyway, marked unchecked, with its media pending review or its URLs long.
package main

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// BlockSize is the uncompressed size of a blob block.
const BlockSize = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// input is the object of the stages store-post needs, keyed by stage name.
type input struct {
	Compose     json.RawMessage `json:"compose"`
	TextFilter  json.RawMessage `json:"text-filter"`
	MediaFilter json.RawMessage `json:"media-filter"`
	UniqueID    json.RawMessage `json:"unique-id"`
	UserLookup  json.RawMessage `json:"user-lookup"`
	URLShorten  json.RawMessage `json:"url-shorten"`
}

// The parts of the upstream outputs that store-post reads.
type (
	stageError struct {
		Error *struct {
			Stage   string `json:"stage"`
			Message string `json:"message"`
		} `json:"error"`
	}
	idOutput struct {
		PostID string `json:"post_id"`
	}
	usersOutput struct {
		Author struct {
			ID       int    `json:"id"`
			Username string `json:"username"`
			Name     string `json:"name"`
			Verified bool   `json:"verified"`
		} `json:"author"`
		Mentions []struct {
			Username string `json:"username"`
			Found    bool   `json:"found"`
			ID       int    `json:"id"`
		} `json:"mentions"`
		Followers []int `json:"followers"`
	}
	filterOutput struct {
		Verdict  string  `json:"verdict"`
		Toxicity float64 `json:"toxicity"`
		Spam     float64 `json:"spam"`
		Matches  []any   `json:"matches"`
		Clean    string  `json:"clean"`
		Checked  bool    `json:"checked"`
	}
	mediaOutput struct {
		Media []struct {
			Index   int    `json:"index"`
			SHA256  string `json:"sha256"`
			Thumb   string `json:"thumb"`
			DHash   string `json:"dhash"`
			Verdict string `json:"verdict"`
		} `json:"media"`
	}
	linksOutput struct {
		Links []struct {
			URL    string `json:"url"`
			Short  string `json:"short"`
			Unsafe bool   `json:"unsafe"`
		} `json:"links"`
	}
)

// Record is the stored post.
type Record struct {
	PostID     string     `json:"post_id"`
	Author     Author     `json:"author"`
	Timestamp  int64      `json:"timestamp"`
	Text       string     `json:"text"`
	Mentions   []Mention  `json:"mentions"`
	Hashtags   []string   `json:"hashtags"`
	Links      []Link     `json:"links"`
	Media      []Media    `json:"media"`
	Moderation Moderation `json:"moderation"`
}

// Author is the post's author.
type Author struct {
	ID       int    `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Verified bool   `json:"verified"`
}

// Mention is a resolved @mention; unknown users are left out.
type Mention struct {
	Username string `json:"username"`
	ID       int    `json:"id"`
}

// Link is a URL of the post and its short form ("" when not shortened).
type Link struct {
	URL    string `json:"url"`
	Short  string `json:"short,omitempty"`
	Unsafe bool   `json:"unsafe,omitempty"`
}

// Media is a stored picture.
type Media struct {
	Index  int    `json:"index"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256,omitempty"`
	Thumb  string `json:"thumb,omitempty"`
	DHash  string `json:"dhash,omitempty"`
	Status string `json:"status"` // ok, review or pending (not checked)
}

// Moderation is text-filter's verdict, or why there is none.
type Moderation struct {
	Checked  bool    `json:"checked"`
	Verdict  string  `json:"verdict"` // ok, flagged, blocked or unchecked
	Toxicity float64 `json:"toxicity"`
	Spam     float64 `json:"spam"`
	Matches  int     `json:"matches"`
	Error    string  `json:"error,omitempty"`
}

// Stored describes the written blob.
type Stored struct {
	RawBytes        int    `json:"raw_bytes"`
	CompressedBytes int    `json:"compressed_bytes"`
	Blocks          int    `json:"blocks"`
	CRC32C          string `json:"crc32c"` // of the compressed blob
	SHA256          string `json:"sha256"` // of the raw blob
}

// Shard is one timeline-store shard's share of the fan-out: an element of
// write-home-timeline's foreach.
type Shard struct {
	Shard     int    `json:"shard"`
	Seed      uint64 `json:"seed"`
	PostID    string `json:"post_id"`
	Timestamp int64  `json:"timestamp"`
	Followers []int  `json:"followers"`
}

// Timeline is write-user-timeline's part: the author's own timeline.
type Timeline struct {
	Seed      uint64 `json:"seed"`
	AuthorID  int    `json:"author_id"`
	PostID    string `json:"post_id"`
	Timestamp int64  `json:"timestamp"`
	HasMedia  bool   `json:"has_media"`
}

// response is what store-post passes on.
type response struct {
	PostID    string   `json:"post_id"`
	Record    Record   `json:"record"`
	Stored    Stored   `json:"stored"`
	Followers int      `json:"followers"`
	Shards    []Shard  `json:"shards"`
	Timeline  Timeline `json:"timeline"`
}

func main() { fnkit.Main("store-post", handle) }

// handle joins, stores and shards the post.
func handle(ctx context.Context, in []byte) ([]byte, error) {
	var parts input
	if err := fnkit.DecodeJSON(in, &parts, `{"compose", "text-filter", "media-filter", "unique-id", "user-lookup", "url-shorten"}: the outputs of the stages store-post needs`); err != nil {
		return nil, err
	}
	var post social.Post
	var id idOutput
	var users usersOutput
	for _, req := range []struct {
		name string
		raw  json.RawMessage
		dst  any
	}{{"compose", parts.Compose, &post}, {"unique-id", parts.UniqueID, &id}, {"user-lookup", parts.UserLookup, &users}} {
		if msg, failed := upstreamError(req.raw); failed || isNull(req.raw) {
			return nil, fmt.Errorf("%w: %s gave no output (%s)", fnkit.ErrBadInput, req.name, msg)
		}
		if err := json.Unmarshal(req.raw, req.dst); err != nil {
			return nil, fmt.Errorf("%w: %s's output: %w", fnkit.ErrBadInput, req.name, err)
		}
	}
	if _, err := social.ParsePostID(id.PostID); err != nil {
		return nil, fmt.Errorf("%w: unique-id's output: %w", fnkit.ErrBadInput, err)
	}
	if post.Shards < 1 || post.Shards > 64 {
		return nil, fmt.Errorf("%w: compose's shards must be 1..64, got %d", fnkit.ErrBadInput, post.Shards)
	}
	rec, err := record(post, id.PostID, users, parts)
	if err != nil {
		return nil, err
	}
	blob, err := bundle(rec, post.Media)
	if err != nil {
		return nil, err
	}
	stored, err := store(ctx, blob)
	if err != nil {
		return nil, err
	}
	out := response{
		PostID: id.PostID, Record: rec, Stored: stored, Followers: len(users.Followers),
		Shards: shard(post.Seed, id.PostID, post.Timestamp, post.Shards, users.Followers),
		Timeline: Timeline{Seed: post.Seed, AuthorID: users.Author.ID, PostID: id.PostID,
			Timestamp: post.Timestamp, HasMedia: len(post.Media) > 0},
	}
	return fnkit.EncodeJSON(out)
}

// upstreamError returns the message of an {"error": ...} value.
func upstreamError(raw json.RawMessage) (string, bool) {
	var e stageError
	if json.Unmarshal(raw, &e) == nil && e.Error != nil {
		return e.Error.Stage + ": " + e.Error.Message, true
	}
	if len(raw) == 0 {
		return "missing", false
	}
	return "null", false
}

// isNull reports a missing or null output (a skipped stage).
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// record joins the stages' outputs into the stored post.
func record(post social.Post, postID string, users usersOutput, parts input) (Record, error) {
	rec := Record{
		PostID: postID, Timestamp: post.Timestamp, Text: post.Text, Hashtags: post.Hashtags,
		Author:   Author{ID: users.Author.ID, Username: users.Author.Username, Name: users.Author.Name, Verified: users.Author.Verified},
		Mentions: []Mention{}, Links: make([]Link, len(post.URLs)), Media: make([]Media, len(post.Media)),
		Moderation: Moderation{Verdict: "unchecked"},
	}
	for _, m := range users.Mentions {
		if m.Found {
			rec.Mentions = append(rec.Mentions, Mention{Username: m.Username, ID: m.ID})
		}
	}
	if msg, failed := upstreamError(parts.TextFilter); failed {
		rec.Moderation.Error = msg
	} else if !isNull(parts.TextFilter) {
		var f filterOutput
		if err := json.Unmarshal(parts.TextFilter, &f); err != nil {
			return Record{}, fmt.Errorf("%w: text-filter's output: %w", fnkit.ErrBadInput, err)
		}
		rec.Moderation = Moderation{Checked: f.Checked, Verdict: f.Verdict, Toxicity: f.Toxicity, Spam: f.Spam, Matches: len(f.Matches)}
		if f.Clean != "" {
			rec.Text = f.Clean
		}
	}
	for i, u := range post.URLs {
		rec.Links[i] = Link{URL: u}
	}
	if _, failed := upstreamError(parts.URLShorten); !failed && !isNull(parts.URLShorten) {
		var l linksOutput
		if err := json.Unmarshal(parts.URLShorten, &l); err != nil {
			return Record{}, fmt.Errorf("%w: url-shorten's output: %w", fnkit.ErrBadInput, err)
		}
		if len(l.Links) != len(post.URLs) {
			return Record{}, fmt.Errorf("%w: url-shorten gave %d links for %d URLs", fnkit.ErrBadInput, len(l.Links), len(post.URLs))
		}
		for i, x := range l.Links {
			rec.Links[i] = Link{URL: post.URLs[i], Short: x.Short, Unsafe: x.Unsafe}
			rec.Text = strings.ReplaceAll(rec.Text, post.URLs[i], x.Short)
		}
	}
	for i, m := range post.Media {
		rec.Media[i] = Media{Index: m.Index, Width: m.Width, Height: m.Height, Bytes: len(m.PNG), Status: "pending"}
	}
	if _, failed := upstreamError(parts.MediaFilter); !failed && !isNull(parts.MediaFilter) {
		var mo mediaOutput
		if err := json.Unmarshal(parts.MediaFilter, &mo); err != nil {
			return Record{}, fmt.Errorf("%w: media-filter's output: %w", fnkit.ErrBadInput, err)
		}
		for _, r := range mo.Media {
			if r.Index < 0 || r.Index >= len(rec.Media) {
				return Record{}, fmt.Errorf("%w: media-filter reports media %d of %d", fnkit.ErrBadInput, r.Index, len(rec.Media))
			}
			m := &rec.Media[r.Index]
			m.SHA256, m.Thumb, m.DHash, m.Status = r.SHA256, r.Thumb, r.DHash, r.Verdict
		}
	}
	return rec, nil
}

// bundle frames the record's JSON and each picture, each part preceded by
// its length as a uvarint.
func bundle(rec Record, media []social.Media) ([]byte, error) {
	js, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	parts := [][]byte{js}
	for _, m := range media {
		parts = append(parts, m.PNG)
	}
	var b []byte
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b, nil
}

// store compresses blob block by block over the CPUs, then decompresses
// every block and checks the result is blob again.
func store(ctx context.Context, blob []byte) (Stored, error) {
	n := (len(blob) + BlockSize - 1) / BlockSize
	blocks := make([][]byte, n)
	errs := make([]error, n)
	err := fnkit.ForEach(ctx, n, func(i int) {
		raw := blob[i*BlockSize : min(len(blob), (i+1)*BlockSize)]
		var buf bytes.Buffer
		w, err := flate.NewWriter(&buf, flate.BestCompression)
		if err == nil {
			_, err = w.Write(raw)
		}
		if err == nil {
			err = w.Close()
		}
		// Each block ends with its CRC-32C, as table-file blocks do.
		blocks[i], errs[i] = binary.LittleEndian.AppendUint32(buf.Bytes(), crc32.Checksum(buf.Bytes(), castagnoli)), err
	})
	if err != nil {
		return Stored{}, err
	}
	if err := errors.Join(errs...); err != nil {
		return Stored{}, fmt.Errorf("compress: %w", err)
	}
	back := make([][]byte, n)
	err = fnkit.ForEach(ctx, n, func(i int) {
		b := blocks[i]
		body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
		if crc32.Checksum(body, castagnoli) != sum {
			errs[i] = fmt.Errorf("block %d: checksum mismatch", i)
			return
		}
		back[i], errs[i] = io.ReadAll(flate.NewReader(bytes.NewReader(body)))
	})
	if err != nil {
		return Stored{}, err
	}
	if err := errors.Join(errs...); err != nil {
		return Stored{}, fmt.Errorf("read back: %w", err)
	}
	if !bytes.Equal(slices.Concat(back...), blob) {
		return Stored{}, errors.New("read back: the stored blob differs from what was written")
	}
	all := slices.Concat(blocks...)
	sum := sha256.Sum256(blob)
	return Stored{
		RawBytes: len(blob), CompressedBytes: len(all), Blocks: n,
		CRC32C: fmt.Sprintf("%08x", crc32.Checksum(all, castagnoli)), SHA256: hex.EncodeToString(sum[:]),
	}, nil
}

// shard spreads the followers over the timeline store's shards by hash;
// every shard appears, in order, its followers ascending.
func shard(seed uint64, postID string, ts int64, shards int, followers []int) []Shard {
	out := make([]Shard, shards)
	for s := range out {
		out[s] = Shard{Shard: s, Seed: seed, PostID: postID, Timestamp: ts, Followers: []int{}}
	}
	for _, f := range followers {
		s := social.Hash(seed, 0x5a4d, uint64(f)) % uint64(shards)
		out[s].Followers = append(out[s].Followers, f)
	}
	for s := range out {
		slices.Sort(out[s].Followers)
	}
	return out
}

// Command write-user-timeline is a stage of the social-compose sample
// workflow. It loads the author's own timeline — every post they wrote,
// newest first, with its flags (synthetic, derived from the seed) — puts
// the new post at its place, and rewrites the timeline as pages of 64
// entries, each delta-encoded, DEFLATE-compressed and checksummed
// (CRC-32C), with a page index of the first id and offset of each page.
// Pages are written over the sandbox's CPUs with pooled compressors.
package main

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"sync"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// Timeline sizes.
const (
	PageSize     = 64
	minHistory   = 8_000
	extraHistory = 8_000
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writers reuses compressors (each holds a window and tables of about a
// megabyte) across the pages a worker writes.
var writers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestCompression) // fails only for a bad level
	return w
}}

// input is what write-user-timeline reads of store-post's output.
type input struct {
	Timeline struct {
		Seed      uint64 `json:"seed"`
		AuthorID  int    `json:"author_id"`
		PostID    string `json:"post_id"`
		Timestamp int64  `json:"timestamp"`
		HasMedia  bool   `json:"has_media"`
	} `json:"timeline"`
}

// entry is one post of the timeline.
type entry struct {
	id    uint64
	flags uint8 // 1: has media, 2: reply, 4: repost
}

// response is what was written.
type response struct {
	AuthorID        int      `json:"author_id"`
	PostID          string   `json:"post_id"`
	Position        int      `json:"position"` // of the new post, 0 = newest
	Length          int      `json:"length"`
	Pages           int      `json:"pages"`
	RawBytes        int      `json:"raw_bytes"`
	CompressedBytes int      `json:"compressed_bytes"`
	CRC32C          string   `json:"crc32c"`
	FirstPage       []string `json:"first_page"` // the newest ids, decimal
}

func main() { fnkit.Main("write-user-timeline", handle) }

// handle writes the post into the author's timeline.
func handle(ctx context.Context, in []byte) ([]byte, error) {
	var req input
	if err := fnkit.DecodeJSON(in, &req, `store-post's output: {"timeline": {"seed", "author_id", "post_id", "timestamp", "has_media"}, ...}`); err != nil {
		return nil, err
	}
	t := req.Timeline
	id, err := social.ParsePostID(t.PostID)
	if err != nil {
		return nil, fmt.Errorf("%w: timeline: %w", fnkit.ErrBadInput, err)
	}
	if t.AuthorID < 0 {
		return nil, fmt.Errorf("%w: timeline: author_id %d is negative", fnkit.ErrBadInput, t.AuthorID)
	}
	tl := history(t.Seed, t.AuthorID, t.Timestamp)
	pos, _ := slices.BinarySearchFunc(tl, id, func(e entry, id uint64) int {
		switch {
		case e.id > id:
			return -1
		case e.id < id:
			return 1
		}
		return 0
	})
	flags := uint8(0)
	if t.HasMedia {
		flags = 1
	}
	tl = slices.Insert(tl, pos, entry{id: id, flags: flags})

	pages := (len(tl) + PageSize - 1) / PageSize
	raw := make([]int, pages)
	packed := make([][]byte, pages)
	errs := make([]error, pages)
	err = fnkit.ForEach(ctx, pages, func(p int) {
		page := encodePage(tl[p*PageSize : min(len(tl), (p+1)*PageSize)])
		raw[p] = len(page)
		var buf bytes.Buffer
		w := writers.Get().(*flate.Writer)
		w.Reset(&buf)
		_, err := w.Write(page)
		if err == nil {
			err = w.Close()
		}
		writers.Put(w)
		packed[p] = binary.LittleEndian.AppendUint32(buf.Bytes(), crc32.Checksum(buf.Bytes(), castagnoli))
		errs[p] = err
	})
	if err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("compress pages: %w", err)
	}
	out := response{AuthorID: t.AuthorID, PostID: t.PostID, Position: pos, Length: len(tl), Pages: pages}
	crc := uint32(0)
	index := make([]byte, 0, pages*16)
	for p := range pages {
		index = binary.BigEndian.AppendUint64(index, tl[p*PageSize].id)
		index = binary.BigEndian.AppendUint64(index, uint64(out.CompressedBytes))
		out.RawBytes += raw[p]
		out.CompressedBytes += len(packed[p])
		crc = crc32.Update(crc, castagnoli, packed[p])
	}
	crc = crc32.Update(crc, castagnoli, index)
	out.CompressedBytes += len(index)
	out.CRC32C = fmt.Sprintf("%08x", crc)
	for _, e := range tl[:min(5, len(tl))] {
		out.FirstPage = append(out.FirstPage, strconv.FormatUint(e.id, 10))
	}
	return fnkit.EncodeJSON(out)
}

// history is the author's timeline before the new post, newest first.
func history(seed uint64, author int, now int64) []entry {
	n := minHistory + int(social.Hash(seed, 0x4157, uint64(author))%extraHistory)
	machine := uint64(author) % 1024
	tl := make([]entry, n)
	ts := now - 1
	for k := range tl {
		h := social.Hash(seed, uint64(author), 0x757, uint64(k))
		tl[k] = entry{id: social.PostID(ts, machine, h%4096), flags: uint8(h >> 12 & 7)}
		ts -= 1 + int64(h>>16%3_600_000) // up to an hour apart
	}
	return tl
}

// encodePage writes a page as its first id, then per entry the uvarint gap
// to the previous id and the flags byte.
func encodePage(es []entry) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(es)*8), es[0].id)
	for k, e := range es {
		if k > 0 {
			b = binary.AppendUvarint(b, es[k-1].id-e.id)
		}
		b = append(b, e.flags)
	}
	return b
}

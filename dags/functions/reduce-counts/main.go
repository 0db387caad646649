// Command reduce-counts is the reduce stage of the wordcount sample
// workflow. It merges the per-chunk word counts that count-words gathered,
// ranks the most frequent words, estimates from the MinHash sketches how
// alike each pair of chunks is, and adds a checksum of the full counts.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"

	"baton.dev/baton/dags/functions/fnkit"
)

// TopWords is how many of the most frequent words the answer lists.
const TopWords = 20

// partial is count-words's answer for one chunk.
type partial struct {
	ID      int            `json:"id"`
	Words   int            `json:"words"`
	Counts  map[string]int `json:"counts"`
	MinHash []uint64       `json:"minhash"`
}

// wordCount is one ranked word.
type wordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

// similarity is the estimated Jaccard similarity of two chunks' shingles.
type similarity struct {
	A       int     `json:"a"`
	B       int     `json:"b"`
	Jaccard float64 `json:"jaccard"`
}

// response is the wordcount workflow's answer.
type response struct {
	Chunks     int          `json:"chunks"`
	Words      int          `json:"words"`
	Distinct   int          `json:"distinct"`
	Top        []wordCount  `json:"top"`
	Similarity []similarity `json:"similarity"`
	Checksum   string       `json:"checksum"`
}

func main() { fnkit.Main("reduce-counts", handle) }

// handle merges the partial counts.
func handle(_ context.Context, input []byte) ([]byte, error) {
	var parts []partial
	if err := fnkit.DecodeJSON(input, &parts, "count-words's outputs, gathered into an array"); err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: no partial counts to reduce", fnkit.ErrBadInput)
	}
	total := map[string]int{}
	out := response{Chunks: len(parts)}
	for i, p := range parts {
		if p.ID != i {
			return nil, fmt.Errorf("%w: partial %d has id %d: want them in chunk order", fnkit.ErrBadInput, i, p.ID)
		}
		out.Words += p.Words
		for w, n := range p.Counts {
			total[w] += n
		}
	}
	ranked := make([]wordCount, 0, len(total))
	for w, n := range total {
		ranked = append(ranked, wordCount{w, n})
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].Count != ranked[j].Count {
			return ranked[i].Count > ranked[j].Count
		}
		return ranked[i].Word < ranked[j].Word
	})
	out.Distinct = len(ranked)
	out.Top = ranked[:min(TopWords, len(ranked))]
	h := sha256.New()
	for _, wc := range ranked {
		fmt.Fprintf(h, "%s %d\n", wc.Word, wc.Count)
	}
	out.Checksum = hex.EncodeToString(h.Sum(nil))
	for a := range parts {
		for b := a + 1; b < len(parts); b++ {
			j, err := jaccard(parts[a].MinHash, parts[b].MinHash)
			if err != nil {
				return nil, fmt.Errorf("%w: chunks %d and %d: %w", fnkit.ErrBadInput, a, b, err)
			}
			out.Similarity = append(out.Similarity, similarity{A: a, B: b, Jaccard: j})
		}
	}
	return fnkit.EncodeJSON(out)
}

// jaccard estimates Jaccard similarity from two MinHash sketches, to 4 decimals.
func jaccard(a, b []uint64) (float64, error) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, fmt.Errorf("sketches of %d and %d values", len(a), len(b))
	}
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return math.Round(float64(same)/float64(len(a))*1e4) / 1e4, nil
}

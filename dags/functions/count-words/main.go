// Command count-words is the map stage of the wordcount sample workflow,
// run once per chunk of the corpus. It tokenises the chunk, counts its words
// and computes a MinHash sketch of its word 3-shingles, so that the reducer
// can estimate how alike the chunks are. The sketch's hash functions are
// spread over the CPUs the sandbox has, so its latency follows the CPU given.
package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode"

	"baton.dev/baton/dags/functions/fnkit"
)

// SketchSize is the number of MinHash functions.
const SketchSize = 256

// chunk is one element of split-text's chunks.
type chunk struct {
	ID    int    `json:"id"`
	Words int    `json:"words"`
	Text  string `json:"text"`
}

// response is the chunk's word counts and sketch.
type response struct {
	ID       int            `json:"id"`
	Words    int            `json:"words"`
	Distinct int            `json:"distinct"`
	Counts   map[string]int `json:"counts"`
	MinHash  []uint64       `json:"minhash"`
}

func main() { fnkit.Main("count-words", handle) }

// handle counts and sketches one chunk.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var c chunk
	if err := fnkit.DecodeJSONStrict(input, &c, `one of split-text's chunks: {"id", "words", "text"}`); err != nil {
		return nil, err
	}
	words := tokens(c.Text)
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: text of chunk %d has no words", fnkit.ErrBadInput, c.ID)
	}
	counts := make(map[string]int)
	for _, w := range words {
		counts[w]++
	}
	sketch, err := minHash(ctx, shingles(words, 3))
	if err != nil {
		return nil, err
	}
	return fnkit.EncodeJSON(response{ID: c.ID, Words: len(words), Distinct: len(counts), Counts: counts, MinHash: sketch})
}

// tokens splits text into lower-case words, dropping punctuation.
func tokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// shingles hashes every run of k consecutive words.
func shingles(words []string, k int) []uint64 {
	if len(words) < k {
		k = len(words)
	}
	out := make([]uint64, 0, len(words)-k+1)
	h := fnv.New64a()
	for i := 0; i+k <= len(words); i++ {
		h.Reset()
		for _, w := range words[i : i+k] {
			h.Write([]byte(w))
			h.Write([]byte{' '})
		}
		out = append(out, h.Sum64())
	}
	return out
}

// minHash is the MinHash sketch of a set of hashed shingles: for each of
// SketchSize seeded mixing functions, the least mixed value.
func minHash(ctx context.Context, set []uint64) ([]uint64, error) {
	sketch := make([]uint64, SketchSize)
	err := fnkit.ForEach(ctx, SketchSize, func(i int) {
		seed := mix(uint64(i)*0x9e3779b97f4a7c15 + 1)
		least := uint64(math.MaxUint64)
		for _, x := range set {
			least = min(least, mix(x^seed))
		}
		sketch[i] = least
	})
	return sketch, err
}

// mix is the SplitMix64 finaliser: a fast, well-spread 64-bit hash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Command split-text is the first stage of the wordcount sample workflow. It
// writes a deterministic corpus — sentences of pseudo-words drawn from a
// Zipf distribution, as natural text is — and splits it at word boundaries
// into chunks for the count-words stage to map over.
package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"baton.dev/baton/dags/functions/fnkit"
)

// request asks for a corpus.
type request struct {
	Seed       uint64 `json:"seed"`
	Words      int    `json:"words"`      // words in the corpus, 1..2,000,000
	Chunks     int    `json:"chunks"`     // pieces to split it into, 1..64
	Vocabulary int    `json:"vocabulary"` // distinct words to draw from, 10..100,000
}

// chunk is one piece of the corpus.
type chunk struct {
	ID    int    `json:"id"`
	Words int    `json:"words"`
	Text  string `json:"text"`
}

// response is the corpus split into chunks.
type response struct {
	Seed   uint64  `json:"seed"`
	Words  int     `json:"words"`
	Chunks []chunk `json:"chunks"`
}

func main() { fnkit.Main("split-text", handle) }

// handle writes and splits the corpus.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var req request
	if err := fnkit.DecodeJSONStrict(input, &req, `{"seed": N, "words": N, "chunks": N, "vocabulary": N}`); err != nil {
		return nil, err
	}
	switch {
	case req.Words < 1 || req.Words > 2_000_000:
		return nil, fmt.Errorf("%w: words must be 1..2000000, got %d", fnkit.ErrBadInput, req.Words)
	case req.Chunks < 1 || req.Chunks > 64 || req.Chunks > req.Words:
		return nil, fmt.Errorf("%w: chunks must be 1..64 and at most words, got %d", fnkit.ErrBadInput, req.Chunks)
	case req.Vocabulary < 10 || req.Vocabulary > 100_000:
		return nil, fmt.Errorf("%w: vocabulary must be 10..100000, got %d", fnkit.ErrBadInput, req.Vocabulary)
	}
	rng := rand.New(rand.NewPCG(req.Seed, 0x5eed))
	vocab := vocabulary(rng, req.Vocabulary)
	cdf := zipfCDF(len(vocab), 1.07)
	words := make([]string, req.Words)
	for i := range words {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		words[i] = vocab[sort.SearchFloat64s(cdf, rng.Float64())]
	}
	out := response{Seed: req.Seed, Words: req.Words}
	per := (req.Words + req.Chunks - 1) / req.Chunks
	for id, from := 0, 0; from < len(words); id, from = id+1, from+per {
		to := min(from+per, len(words))
		out.Chunks = append(out.Chunks, chunk{ID: id, Words: to - from, Text: sentences(rng, words[from:to])})
	}
	return fnkit.EncodeJSON(out)
}

// syllables make pronounceable pseudo-words.
var syllables = []string{"ba", "to", "ne", "ri", "lo", "ka", "su", "me", "di", "an", "el", "or", "ul", "ste", "pra", "ve", "qui", "zo", "ha", "ny"}

// vocabulary returns n distinct pseudo-words, most frequent first.
func vocabulary(rng *rand.Rand, n int) []string {
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		var b strings.Builder
		for range 1 + rng.IntN(3) + len(out)*4/n {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// zipfCDF is the cumulative distribution of Zipf's law with exponent s over n ranks.
func zipfCDF(n int, s float64) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	return cdf
}

// sentences joins words into capitalised sentences with punctuation.
func sentences(rng *rand.Rand, words []string) string {
	var b strings.Builder
	start := true
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		if start {
			w = strings.ToUpper(w[:1]) + w[1:]
			start = false
		}
		b.WriteString(w)
		switch r := rng.IntN(100); {
		case i == len(words)-1 || r < 7:
			b.WriteByte('.')
			start = true
		case r < 12:
			b.WriteByte(',')
		}
	}
	return b.String()
}

// Command text-filter is a stage of the social-compose sample workflow: the
// content filter of a post's text. It normalises each word (case, leetspeak,
// stretched letters) and compares it with every term of a blocklist of
// similar length by restricted Damerau–Levenshtein distance, so that
// misspelt and disguised terms are caught too, masks what it finds, and
// scores the post for spam with a logistic model over hashed character
// 4-grams. The blocklist and the model are loaded once per sandbox (built
// deterministically); the word comparisons are spread over its CPUs.
package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// Sizes of the blocklist and of the spam model.
const (
	blocklistTerms = 24_000
	modelBits      = 20 // 2^20 hashed 4-gram weights
)

// post is what text-filter reads of compose-post's output.
type post struct {
	Text     string   `json:"text"`
	Mentions []string `json:"mentions"`
	URLs     []string `json:"urls"`
	Hashtags []string `json:"hashtags"`
}

// match is one blocklisted word found in the text.
type match struct {
	Word     string `json:"word"`     // as written
	Term     string `json:"term"`     // the blocklist term it matches
	Distance int    `json:"distance"` // edits between the normalised word and the term
	Offset   int    `json:"offset"`   // byte offset in the text
}

// response is the filter's verdict.
type response struct {
	Checked  bool    `json:"checked"`
	Words    int     `json:"words"`
	Matches  []match `json:"matches"`
	Toxicity float64 `json:"toxicity"` // share of words matched
	Spam     float64 `json:"spam"`     // spam probability
	Verdict  string  `json:"verdict"`  // ok, flagged or blocked
	Clean    string  `json:"clean"`    // the text with matched words masked
}

func main() { fnkit.Main("text-filter", handle) }

// handle filters and scores the text.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var p post
	if err := fnkit.DecodeJSON(input, &p, `compose-post's output: {"text", ...}`); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.Text) == "" {
		return nil, fmt.Errorf("%w: text is empty", fnkit.ErrBadInput)
	}
	words := split(p.Text)
	bl := blocklist()
	found := make([]*match, len(words))
	err := fnkit.ForEach(ctx, len(words), func(i int) {
		if term, d, ok := bl.lookup(words[i].norm); ok {
			found[i] = &match{Word: words[i].text, Term: term, Distance: d, Offset: words[i].offset}
		}
	})
	if err != nil {
		return nil, err
	}
	out := response{Checked: true, Words: len(words), Matches: []match{}}
	clean := []byte(p.Text)
	for _, m := range found {
		if m == nil {
			continue
		}
		out.Matches = append(out.Matches, *m)
		_, size := utf8.DecodeRuneInString(m.Word)
		for k := m.Offset + size; k < m.Offset+len(m.Word); k++ {
			clean[k] = '*'
		}
	}
	out.Clean = string(clean)
	if len(words) > 0 {
		out.Toxicity = round(float64(len(out.Matches)) / float64(len(words)))
	}
	out.Spam = round(spamScore(p))
	switch {
	case out.Toxicity > 0.2 || out.Spam > 0.95:
		out.Verdict = "blocked"
	case len(out.Matches) > 0 || out.Spam > 0.7:
		out.Verdict = "flagged"
	default:
		out.Verdict = "ok"
	}
	return fnkit.EncodeJSON(out)
}

// round keeps four decimals, so that outputs compare across machines.
func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// word is one word of the text.
type word struct {
	text   string // as written, punctuation trimmed
	norm   string // normalised for matching
	offset int    // byte offset of text in the post
}

// split returns the words of text that can carry language: not @mentions,
// #hashtags or URLs.
func split(text string) []word {
	var out []word
	for i := 0; i < len(text); {
		for i < len(text) && text[i] <= ' ' {
			i++
		}
		j := i
		for j < len(text) && text[j] > ' ' {
			j++
		}
		tok := text[i:j]
		start := i
		i = j
		if tok == "" || tok[0] == '@' || tok[0] == '#' || strings.HasPrefix(tok, "http://") || strings.HasPrefix(tok, "https://") {
			continue
		}
		trimmed := strings.TrimLeftFunc(tok, isPunct)
		start += len(tok) - len(trimmed)
		trimmed = strings.TrimRightFunc(trimmed, isPunct)
		if n := normalise(trimmed); n != "" {
			out = append(out, word{text: trimmed, norm: n, offset: start})
		}
	}
	return out
}

// isPunct reports punctuation around a word; leetspeak digits and symbols
// inside it stay.
func isPunct(r rune) bool { return unicode.IsPunct(r) && r != '@' && r != '$' || unicode.IsSymbol(r) }

// leet maps the digits and symbols used to disguise letters.
var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's', '!': 'i'}

// normalise lower-cases a word, undoes leetspeak, drops what is not a
// letter and shortens runs of one letter to two ("baaaad" → "baad").
func normalise(w string) string {
	var b strings.Builder
	var last rune
	run := 0
	for _, r := range strings.ToLower(w) {
		if l, ok := leet[r]; ok {
			r = l
		}
		if !unicode.IsLetter(r) {
			continue
		}
		if r == last {
			if run++; run > 2 {
				continue
			}
		} else {
			last, run = r, 1
		}
		b.WriteRune(r)
	}
	return b.String()
}

// terms is the blocklist: its terms, exact-match index and length buckets.
type terms struct {
	exact    map[string]bool
	byLength map[int][]string
}

// blocklist builds the blocklist once per process.
var blocklist = sync.OnceValue(func() *terms {
	parts := []string{"fu", "sh", "cr", "ap", "ck", "it", "ur", "da", "mn", "bl", "ox", "wa", "nk", "ig", "ot", "sl", "ag", "ho", "ze", "pu"}
	t := &terms{exact: map[string]bool{}, byLength: map[int][]string{}}
	for i := 0; len(t.exact) < blocklistTerms; i++ {
		h := social.Hash(0xb10c, uint64(i))
		var b strings.Builder
		for k := range 3 + int(h%3) {
			b.WriteString(parts[(h>>(4+5*k))%uint64(len(parts))])
		}
		if s := b.String(); !t.exact[s] {
			t.exact[s] = true
			t.byLength[len(s)] = append(t.byLength[len(s)], s)
		}
	}
	return t
})

// lookup finds the term closest to a normalised word: exactly, or for
// words of five letters or more within one edit.
func (t *terms) lookup(w string) (string, int, bool) {
	if t.exact[w] {
		return w, 0, true
	}
	if len(w) < 5 {
		return "", 0, false
	}
	for _, n := range []int{len(w), len(w) - 1, len(w) + 1} {
		for _, term := range t.byLength[n] {
			if withinOne(w, term) {
				return term, 1, true
			}
		}
	}
	return "", 0, false
}

// withinOne reports whether the restricted Damerau–Levenshtein distance
// (insertions, deletions, substitutions, adjacent transpositions) between a
// and b is at most 1, by dynamic programming with an early exit once a whole
// row exceeds 1.
func withinOne(a, b string) bool {
	var rows [3][32]int
	if len(b) >= len(rows[0]) {
		return false
	}
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := range len(b) + 1 {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		least := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
			least = min(least, d)
		}
		if least > 1 {
			return false
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)] <= 1
}

// weights is the spam model: one weight per hashed character 4-gram.
var weights = sync.OnceValue(func() []float32 {
	w := make([]float32, 1<<modelBits)
	for i := range w {
		w[i] = float32(int64(social.Hash(0x5ba4, uint64(i))%2001)-1000) / 1000
	}
	return w
})

// spamScore is the logistic model's spam probability for the post: hashed
// 4-grams of the lower-cased text plus link, mention, tag and shouting
// features.
func spamScore(p post) float64 {
	w := weights()
	text := strings.ToLower(p.Text)
	sum, n := 0.0, 0
	for i := 0; i+4 <= len(text); i++ {
		h := social.HashString(text[i:i+4]) & (1<<modelBits - 1)
		sum += float64(w[h])
		n++
	}
	z := -2.5
	if n > 0 {
		z += sum / math.Sqrt(float64(n))
	}
	upper, letters := 0, 0
	for _, r := range p.Text {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters > 0 {
		z += 3 * float64(upper) / float64(letters)
	}
	z += 0.6*float64(len(p.URLs)) + 0.3*float64(len(p.Hashtags)) + 0.2*float64(len(p.Mentions)) + 0.4*float64(strings.Count(p.Text, "!"))
	return 1 / (1 + math.Exp(-z))
}

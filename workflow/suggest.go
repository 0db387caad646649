package workflow

import (
	"fmt"
	"sort"
	"strings"
)

// suggest returns the candidate closest to got by edit distance (ignoring
// case), or "" when none is close: a candidate is close when the distance is
// at most half the longer word's length, or when one word is a prefix of the
// other. Ties go to the alphabetically first candidate.
func suggest(got string, candidates []string) string {
	const maxCandidates = 1000 // keeps a hostile document's report cheap
	if len(candidates) > maxCandidates {
		candidates = candidates[:maxCandidates]
	}
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	g := strings.ToLower(got)
	best, bestDist := "", -1
	for _, c := range sorted {
		if c == got {
			continue
		}
		lc := strings.ToLower(c)
		d := editDistance(g, lc)
		longer := max(len(g), len(lc))
		prefix := len(g) >= 2 && len(lc) >= 2 && (strings.HasPrefix(lc, g) || strings.HasPrefix(g, lc))
		if d > longer/2 && !prefix {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean formats a " (did you mean %q?)" suffix, or "" without a suggestion.
func didYouMean(got string, candidates []string) string {
	if s := suggest(got, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, by bytes.
// Inputs are short identifiers; very long ones are compared only by length.
func editDistance(a, b string) int {
	const maxLen = 256
	if len(a) > maxLen || len(b) > maxLen {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Package stats defines Baton's sample statistics once, so that every
// report, benchmark, simulator and judgement computes the same figure:
//
//   - The p-th percentile is the nearest rank: the smallest value with at
//     least p% of the values at or below it (no interpolation), so it is
//     always a value that was observed.
//   - A failed invocation counts as slower than every success (+Inf): it
//     misses any latency target. A percentile whose rank falls on a failure
//     is +Inf, and a window judged on it misses.
package stats

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
)

// rankTolerance absorbs floating-point error in p/100*n, so that the 95th
// percentile of 20 values is the 19th, not the 20th (0.95*20 is
// 19.000000000000004).
const rankTolerance = 1e-9

// Rank returns the 1-based nearest rank of the p-th percentile among n
// values (p in (0, 100]; n > 0): ceil(p/100*n), at least 1, at most n.
func Rank(n int, p float64) int {
	r := int(math.Ceil(p/100*float64(n) - rankTolerance))
	return max(1, min(r, n))
}

// Percentile returns the p-th percentile of xs by nearest rank, NaN for
// none. xs is not modified.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[Rank(len(s), p)-1]
}

// Sorted returns the p-th percentile of sorted (ascending) by nearest
// rank, the zero value for none. It does not copy: for large samples
// sorted once.
func Sorted[T cmp.Ordered](sorted []T, p float64) T {
	if len(sorted) == 0 {
		var zero T
		return zero
	}
	return sorted[Rank(len(sorted), p)-1]
}

// WithFailures returns the latencies of the successes with one +Inf for
// each failure appended, ready for Percentile.
func WithFailures(successes []float64, failures int) []float64 {
	out := make([]float64, len(successes), len(successes)+failures)
	copy(out, successes)
	for range failures {
		out = append(out, math.Inf(1))
	}
	return out
}

// Mean returns the mean of xs, NaN for none.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Ms is a latency in milliseconds that may be +Inf (failures reached the
// percentile's rank). JSON, which has no infinity, writes that as null.
type Ms float64

// MarshalJSON writes a finite latency as a number and +Inf as null.
func (m Ms) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(m), 0) || math.IsNaN(float64(m)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(m))
}

// UnmarshalJSON reads null as +Inf.
func (m *Ms) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = Ms(math.Inf(1))
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*m = Ms(f)
	return nil
}

package prewarmsim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"baton.dev/baton/scheduler/stats"
)

// TestSketchWithinStatedError checks every percentile the sketch gives
// against the exact nearest-rank one: within SketchRelativeError, also
// after merging sketches of parts of the values.
func TestSketchWithinStatedError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(n int, f func() float64) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = f()
		}
		return xs
	}
	tests := []struct {
		name string
		xs   []float64
	}{
		{"one value", []float64{1.234}},
		{"two values", []float64{0.5, 7}},
		{"log-normal latencies", draw(100000, func() float64 { return 0.4 * math.Exp(0.8*rng.NormFloat64()) })},
		{"uniform over decades", draw(20000, func() float64 { return math.Pow(10, -3+7*rng.Float64()) })},
		{"a constant", draw(1000, func() float64 { return 2.5 })},
		{"some zeros", append(draw(500, func() float64 { return rng.Float64() }), make([]float64, 20)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var whole, merged latencySketch
			parts := []latencySketch{{}, {}, {}}
			for i, x := range tt.xs {
				whole.add(x)
				parts[i%3].add(x)
			}
			for i := range parts {
				merged.merge(&parts[i])
			}
			sorted := slices.Sorted(slices.Values(tt.xs))
			for _, p := range []float64{0, 1, 50, 90, 99, 99.9, 100} {
				exact := stats.Sorted(sorted, p)
				for name, s := range map[string]*latencySketch{"whole": &whole, "merged": &merged} {
					got := s.percentile(p)
					if math.Abs(got-exact) > SketchRelativeError*exact*(1+1e-9) || (exact <= sketchZero) != (got == 0) {
						t.Errorf("%s p%v = %v, exact %v: off by %.4f%%, want at most %.4f%%", name, p, got, exact, 100*math.Abs(got-exact)/exact, 100*SketchRelativeError)
					}
				}
			}
			if whole.count() != len(tt.xs) || merged.count() != len(tt.xs) {
				t.Errorf("counts %d and %d, want %d", whole.count(), merged.count(), len(tt.xs))
			}
		})
	}
	var empty latencySketch
	if empty.percentile(99) != 0 || (*latencySketch)(nil).count() != 0 {
		t.Error("an empty sketch has a percentile or a count")
	}
}

package bayes

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Dim is one dimension of a search space: the interval [Lo, Hi], continuous
// when Step is 0, otherwise the values Lo, Lo+Step, … up to Hi (and Hi itself).
type Dim struct {
	Lo, Hi, Step float64
}

// Space is a mixed continuous/stepped box to search in.
type Space []Dim

// Bounds returns the space's intervals, for Fit.
func (s Space) Bounds() []Interval {
	out := make([]Interval, len(s))
	for i, d := range s {
		out[i] = Interval{Lo: d.Lo, Hi: d.Hi}
	}
	return out
}

// Validate checks every dimension.
func (s Space) Validate() error {
	for i, d := range s {
		if math.IsNaN(d.Lo) || math.IsNaN(d.Hi) || d.Hi < d.Lo || d.Step < 0 || math.IsInf(d.Hi-d.Lo, 0) {
			return fmt.Errorf("dimension %d: invalid [%g, %g] step %g", i, d.Lo, d.Hi, d.Step)
		}
	}
	return nil
}

// levels returns how many values a stepped dimension has (0 if continuous).
func (d Dim) levels() int {
	if d.Step == 0 {
		return 0
	}
	n := int(math.Floor((d.Hi-d.Lo)/d.Step+1e-9)) + 1
	if d.Lo+float64(n-1)*d.Step < d.Hi-1e-9*math.Max(1, d.Hi) {
		n++ // Hi itself is a level
	}
	return n
}

// level returns the k-th value of a stepped dimension.
func (d Dim) level(k int) float64 {
	return math.Min(d.Lo+float64(k)*d.Step, d.Hi)
}

// Snap clamps v into the dimension and rounds it to the nearest step.
func (d Dim) Snap(v float64) float64 {
	v = math.Max(d.Lo, math.Min(d.Hi, v))
	if d.Step == 0 {
		return v
	}
	k := int(math.Round((v - d.Lo) / d.Step))
	k = max(0, min(k, d.levels()-1))
	best := d.level(k)
	if math.Abs(d.Hi-v) < math.Abs(best-v) {
		best = d.Hi
	}
	return best
}

// Snap returns a copy of x clamped into the space and rounded to its steps.
func (s Space) Snap(x []float64) []float64 {
	out := make([]float64, len(s))
	for i, d := range s {
		out[i] = d.Snap(x[i])
	}
	return out
}

// Sample draws a point uniformly: continuous dimensions uniformly on their
// interval, stepped ones uniformly among their levels.
func (s Space) Sample(rng *rand.Rand) []float64 {
	x := make([]float64, len(s))
	for i, d := range s {
		if d.Step == 0 {
			x[i] = d.Lo + rng.Float64()*(d.Hi-d.Lo)
		} else {
			x[i] = d.level(rng.IntN(d.levels()))
		}
	}
	return x
}

// LatinHypercube draws n points whose projections on every dimension fall in
// n distinct equal strata (then snapped to steps), a space-filling design.
func (s Space) LatinHypercube(n int, rng *rand.Rand) [][]float64 {
	pts := make([][]float64, n)
	for i := range pts {
		pts[i] = make([]float64, len(s))
	}
	for j, d := range s {
		perm := rng.Perm(n)
		for i := 0; i < n; i++ {
			u := (float64(perm[i]) + rng.Float64()) / float64(n)
			pts[i][j] = d.Snap(d.Lo + u*(d.Hi-d.Lo))
		}
	}
	return pts
}

// MaximizeOptions tune Maximize.
type MaximizeOptions struct {
	// RandomStarts is how many uniform random points are scored (default 512).
	RandomStarts int
	// Refine is how many of the best starts are refined locally (default 4).
	Refine int
	// Sweeps bounds the local pattern-search sweeps per refined start (default 30).
	Sweeps int
	// Seeds are extra starting points scored and considered for refinement
	// (e.g. the incumbent); they are snapped into the space.
	Seeds [][]float64
}

// Maximize maximises f over the space: it scores random points and the
// given seeds, then refines the best few with a pattern search that moves
// continuous coordinates by a shrinking step and stepped ones level by level.
// Points where f returns −Inf or NaN are treated as forbidden. It returns the
// best point and its value (−Inf when every point scored was forbidden).
// Deterministic given rng.
func Maximize(f func(x []float64) float64, s Space, opts MaximizeOptions, rng *rand.Rand) ([]float64, float64) {
	starts := opts.RandomStarts
	if starts <= 0 {
		starts = 512
	}
	refine := opts.Refine
	if refine <= 0 {
		refine = 4
	}
	sweeps := opts.Sweeps
	if sweeps <= 0 {
		sweeps = 30
	}
	type scored struct {
		x []float64
		v float64
	}
	eval := func(x []float64) float64 {
		v := f(x)
		if math.IsNaN(v) {
			return math.Inf(-1)
		}
		return v
	}
	cands := make([]scored, 0, starts+len(opts.Seeds))
	for _, x := range opts.Seeds {
		x = s.Snap(x)
		cands = append(cands, scored{x, eval(x)})
	}
	for i := 0; i < starts; i++ {
		x := s.Sample(rng)
		cands = append(cands, scored{x, eval(x)})
	}
	slices.SortStableFunc(cands, func(a, b scored) int {
		switch {
		case a.v > b.v:
			return -1
		case a.v < b.v:
			return 1
		}
		return 0
	})
	best := cands[0]
	for r := 0; r < refine && r < len(cands); r++ {
		if math.IsInf(cands[r].v, -1) {
			break
		}
		x, v := patternSearch(eval, s, cands[r].x, cands[r].v, sweeps)
		if v > best.v {
			best = scored{x, v}
		}
	}
	return best.x, best.v
}

// patternSearch climbs from x: for each coordinate it tries a step up and
// down, keeps any improvement, and halves the continuous step after a sweep
// without one.
func patternSearch(f func([]float64) float64, s Space, x []float64, v float64, sweeps int) ([]float64, float64) {
	x = append([]float64(nil), x...)
	frac := 0.1 // continuous step as a share of the interval
	try := make([]float64, len(x))
	for sweep := 0; sweep < sweeps && frac > 1e-4; sweep++ {
		improved := false
		for i, d := range s {
			if d.Hi == d.Lo {
				continue
			}
			step := frac * (d.Hi - d.Lo)
			if d.Step > 0 {
				step = d.Step
			}
			for _, dir := range [2]float64{1, -1} {
				copy(try, x)
				try[i] = d.Snap(x[i] + dir*step)
				if try[i] == x[i] {
					continue
				}
				if tv := f(try); tv > v {
					copy(x, try)
					v = tv
					improved = true
					break
				}
			}
		}
		if !improved {
			frac /= 2
		}
	}
	return x, v
}

package scheduler

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAquatopeExpectedMiss checks the final choice's rule: on the target
// and certain, a configuration misses exactly the windows allowed; below
// it misses fewer; uncertainty costs (the miss rate is convex), so a wide
// posterior needs its mean further below the target than a narrow one.
func TestAquatopeExpectedMiss(t *testing.T) {
	s, target := tinySpace(t)
	p := newAquatope(s, target, 20, 1, AquatopeOptions{})
	const kappa = 20 // about what the samples' tails give
	tests := []struct {
		name       string
		mean, sd   float64
		lo, hi     float64 // bounds on the expected miss rate
		acceptable bool
	}{
		{"just under the target, certain", -1e-6, 0, 0.0099, 0.01, true},
		{"5% under, certain", -0.05, 0, 0, 0.002, true},
		{"5% over, certain", 0.05, 0, 0.05, 1, false},
		{"on the target, uncertain", 0, 0.02, 0.0101, 1, false},
		{"just under, narrow: the 1σ bound would refuse it", -0.004, 0.005, 0, 0.01, true},
		{"4% under, wide: the 1σ bound would take it", -0.04, 0.035, 0.0101, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.expectedMiss(tt.mean, tt.sd, kappa)
			if got < tt.lo || got > tt.hi {
				t.Errorf("expected miss %.4f, want in [%g, %g]", got, tt.lo, tt.hi)
			}
			if ok := got <= p.opts.WindowMissRate; ok != tt.acceptable {
				t.Errorf("acceptable %v (miss %.4f), want %v", ok, got, tt.acceptable)
			}
		})
	}
}

// TestAquatopeTailSlope checks κ from the two percentiles every evaluation
// measures: their exceedances are 5% and 1 − quantile/100, so their
// latency ratio r gives κ = log(5%/e*)/log r, the median over evaluations.
func TestAquatopeTailSlope(t *testing.T) {
	s, target := tinySpace(t)
	tests := []struct {
		name   string
		ratios []float64
		want   float64 // log ratio the κ should come from
	}{
		{"one ratio", []float64{1.05}, math.Log(1.05)},
		{"median of three", []float64{1.02, 1.10, 1.05}, math.Log(1.05)},
		{"a near-step tail is floored", []float64{1, 1, 1.01}, 1e-3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newAquatope(s, target, 20, 1, AquatopeOptions{})
			for _, r := range tt.ratios {
				p.samples = append(p.samples, aquatopeSample{summary: summary{latencyMs: 100 * r}, targetPctMs: 100})
			}
			want := math.Log(0.05/(1-p.quantile/100)) / tt.want
			if got := p.tailSlope(); math.Abs(got-want) > 1e-9*want {
				t.Errorf("κ %.4f, want %.4f", got, want)
			}
		})
	}
}

// TestAquatopeFinalChoiceLeavesOutUnremeasuredOutlier plants, as the last
// evaluation (no budget left to re-measure it), a lucky measurement of a
// configuration that misses the target (measured 25% faster than it is). The
// final choice must be the one made without that measurement, unless told
// to keep outliers, when the lucky sample drags it elsewhere.
func TestAquatopeFinalChoiceLeavesOutUnremeasuredOutlier(t *testing.T) {
	s, target := tinySpace(t)
	target.LatencyMs = 760 // a at 256Mi needs more than 536m; 500m gives 800 ms
	ctx := context.Background()
	unsafe := Config{"a": {500, 256 * MiB}, "b": {500, 128 * MiB}}
	choose := func(keep, plant bool) (Config, *aquatope) {
		var evals []Config
		for cpu := int64(350); cpu <= 1000; cpu += 75 {
			for _, mem := range []int64{128, 256} {
				evals = append(evals, Config{"a": {cpu, mem * MiB}, "b": {500, 128 * MiB}})
			}
		}
		p := newAquatope(s, target, len(evals)+1, 1, AquatopeOptions{KeepOutliers: keep})
		rng := rand.New(rand.NewPCG(3, 3))
		for _, c := range evals {
			if err := p.Observe(ctx, c, observe(c, 100, rng)); err != nil {
				t.Fatal(err)
			}
		}
		if plant {
			o := observe(unsafe, 100, rng)
			for i := range o.LatencyMs {
				o.LatencyMs[i] *= 0.75
			}
			if err := p.Observe(ctx, unsafe, o); err != nil {
				t.Fatal(err)
			}
		}
		best, err := p.Best(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return best, p
	}
	clean, _ := choose(false, false)
	tests := []struct {
		name string
		keep bool
		same bool // whether the choice is the one made without the lucky sample
	}{
		{"outliers left out", false, true},
		{"outliers kept", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			best, p := choose(tt.keep, true)
			m, err := p.fit(3)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.outliers(m)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 || out[0].sample != len(p.samples)-1 {
				t.Fatalf("outliers %+v, want the planted sample %d alone", out, len(p.samples)-1)
			}
			if got := s.Key(best) == s.Key(clean); got != tt.same {
				t.Errorf("chose %s, without the lucky sample %s: same %v, want %v", s.Key(best), s.Key(clean), got, tt.same)
			}
		})
	}
}

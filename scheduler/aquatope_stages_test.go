package scheduler

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"baton.dev/baton/bayes"
	"baton.dev/baton/scheduler/stats"
)

// TestStageBins checks that every level falls in its own bin and that the
// bins cover [0, 1) in order.
func TestStageBins(t *testing.T) {
	for k := range stageLevels {
		if got := stageBin(stageLevel(k)); int(got) != k {
			t.Errorf("level %d (%g) falls in bin %d", k, stageLevel(k), got)
		}
	}
	for _, tc := range []struct {
		u    float64
		want uint8
	}{{0, 0}, {0.0499, 0}, {0.05, 1}, {0.9499, 18}, {0.95, 19}, {0.9599, 19}, {0.96, 20}, {0.9899, 22}, {0.99, 23}, {0.9949, 23}, {0.995, 24}, {0.99999, 24}} {
		if got := stageBin(tc.u); got != tc.want {
			t.Errorf("stageBin(%g) = %d, want %d", tc.u, got, tc.want)
		}
	}
}

// TestSelectRank compares selection with sorting.
func TestSelectRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 100, 1001} {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = math.Floor(rng.Float64() * 20) // ties
		}
		sorted := slices.Sorted(slices.Values(xs))
		for _, k := range []int{0, n / 2, n - 1} {
			if got := selectRank(slices.Clone(xs), k); got != sorted[k] {
				t.Errorf("n %d: rank %d = %g, want %g", n, k, got, sorted[k])
			}
		}
	}
}

// TestForecastComposesStages checks the Monte Carlo composition on
// stages without knobs (constant models): a → (b ∥ c), where the forecast
// window-safe percentile must be the one of the same draws composed by
// hand, and the stage on the critical path must carry the uncertainty.
func TestForecastComposesStages(t *testing.T) {
	g, err := newGraph([]StageNode{{Name: "a"}, {Name: "b", Needs: []string{"a"}}, {Name: "c", Needs: []string{"a"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Stage latencies: a = 100 + k ms in bin k, b = 10·(k+1), c = 5.
	models := make([]*stageModel, 3)
	for s := range models {
		models[s] = &stageModel{}
		for k := range stageLevels {
			v := []float64{100 + float64(k), 10 * float64(k+1), 5}[s]
			models[s].constant[k] = math.Log(v)
		}
		models[s].constant[outCost] = math.Log(1e-6)
	}
	f := newForecaster(g, make([][]int, 3), models, 0, 95, 98.6)
	rng := rand.New(rand.NewPCG(7, 7))
	draws := make([]uint8, 3*5000)
	for i := range draws {
		draws[i] = stageBin(rng.Float64())
	}
	fc := f.at(nil, draws)
	var e2e []float64
	for d := range 5000 {
		a, b, c := 100+float64(draws[3*d]), 10*float64(draws[3*d+1]+1), 5.0
		e2e = append(e2e, a+max(b, c))
	}
	if want := stats.Percentile(e2e, 98.6); math.Abs(fc.logLatency-math.Log(want)) > 1e-12 {
		t.Errorf("forecast p98.6 %g ms, composed by hand %g ms", math.Exp(fc.logLatency), want)
	}
	if want := math.Log(3e-6); math.Abs(fc.logCost-want) > 1e-12 {
		t.Errorf("log cost %g, want %g", fc.logCost, want)
	}
	if fc.latencySD != 0 || !(fc.kappa > 0) {
		t.Errorf("constant models: sd %g (want 0), κ %g (want > 0)", fc.latencySD, fc.kappa)
	}
}

// TestAquatopeStagesChoosesSafely runs the policy on the tiny workflow
// and expects a final choice that meets the true target (in windows, as
// often as allowed give or take the forecast's error), cheaper than
// every knob at its maximum, the same for the same seed; an observation
// without stages is refused.
func TestAquatopeStagesChoosesSafely(t *testing.T) {
	s, target := tinySpace(t)
	ctx := context.Background()
	run := func() Config {
		p, err := NewPolicy(PolicyAquatopeStages, s, target, PolicyOptions{Seed: 5, Budget: 15, Graph: tinyGraph(t)})
		if err != nil {
			t.Fatal(err)
		}
		return drive(t, p, rand.New(rand.NewPCG(2, 2)))
	}
	best := run()
	var f fakeTruth
	// Its windows miss, by the truth (observe's noise: log-normal, σ
	// 0.05), at most twice as often as allowed: it is chosen at the
	// boundary the forecast draws.
	exceed := 1 - bayes.NormalCDF(math.Log(target.LatencyMs/f.latency(best))/0.05)
	if miss := WindowMissProbability(target.Percentile, 100, exceed); miss > 0.02 {
		t.Errorf("best %s: latency %g ms, %.1f%% of its windows miss the target", s.Key(best), f.latency(best), 100*miss)
	}
	if f.ExpectedCostUSD(best) >= f.ExpectedCostUSD(s.Max()) {
		t.Errorf("best %s saves nothing on every knob at its maximum", s.Key(best))
	}
	if again := run(); s.Key(again) != s.Key(best) {
		t.Errorf("same seed, different choices: %s vs %s", s.Key(best), s.Key(again))
	}
	p, err := NewPolicy(PolicyAquatopeStages, s, target, PolicyOptions{Graph: tinyGraph(t)})
	if err != nil {
		t.Fatal(err)
	}
	o := observe(s.Max(), 10, rand.New(rand.NewPCG(1, 1)))
	delete(o.StageLatencyMs, "b")
	if err := p.Observe(ctx, s.Max(), o); err == nil || !strings.Contains(err.Error(), `stage "b"`) {
		t.Errorf("observation without stage b: error %v", err)
	}
	if _, err := NewPolicy(PolicyAquatopeStages, s, target, PolicyOptions{}); err == nil {
		t.Error("no graph: want an error")
	}
}

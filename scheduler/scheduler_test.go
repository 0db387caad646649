package scheduler

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"baton.dev/baton/workflow"
)

// twoFunctionWorkflow has one auto function (CPU and memory) and one fixed.
const twoFunctionWorkflow = `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: tiny}
spec:
  qos: {latency: 1s, percentile: 95}
  functions:
    a:
      image: x/a:v1
      resources: {cpu: auto, memory: auto}
      bounds: {cpu: [250m, 1000m], memory: [128Mi, 256Mi]}
    b:
      image: x/b:v1
      resources: {cpu: 500m, memory: 128Mi}
  stages:
    - {name: a, function: a}
    - {name: b, function: b, needs: [a]}
`

func parse(t testing.TB, src string) *workflow.Workflow {
	t.Helper()
	w, err := workflow.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func tinySpace(t testing.TB) (*Space, Target) {
	t.Helper()
	w := parse(t, twoFunctionWorkflow)
	s, err := NewSpace(w, SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target, err := TargetOf(w)
	if err != nil {
		t.Fatal(err)
	}
	return s, target
}

func TestNewSpace(t *testing.T) {
	s, target := tinySpace(t)
	if target != (Target{LatencyMs: 1000, Percentile: 95}) {
		t.Errorf("target %+v", target)
	}
	want := []Knob{
		{Function: "a", Resource: ResourceCPU, Lo: 250, Hi: 1000},
		{Function: "a", Resource: ResourceMemory, Lo: 128, Hi: 256, Step: 64},
	}
	if len(s.Knobs) != len(want) {
		t.Fatalf("knobs %+v, want %+v", s.Knobs, want)
	}
	for i := range want {
		if s.Knobs[i] != want[i] {
			t.Errorf("knob %d = %+v, want %+v", i, s.Knobs[i], want[i])
		}
	}
	for _, tc := range []struct {
		name string
		x    []float64
		want Setting
	}{
		{"inside", []float64{400.4, 190}, Setting{400, 192 * MiB}},
		{"clamped", []float64{5000, 10}, Setting{1000, 128 * MiB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.Config(tc.x)
			if c["a"] != tc.want || c["b"] != (Setting{500, 128 * MiB}) {
				t.Errorf("Config(%v) = %+v", tc.x, c)
			}
			if err := s.Contains(c); err != nil {
				t.Error(err)
			}
		})
	}
	bad := s.Max()
	bad["b"] = Setting{600, 128 * MiB}
	if s.Contains(bad) == nil {
		t.Error("a changed fixed resource is inside the space")
	}
}

// fakeTruth is a known cost/latency landscape over the tiny space: latency
// falls with CPU and with memory below 192 MiB; cost rises with both.
type fakeTruth struct{}

func (fakeTruth) latency(c Config) float64 {
	a := c["a"]
	l := 300e3 / float64(a.CPUMilli)
	if a.MemoryBytes < 192*MiB {
		l *= 1.5
	}
	return l + 200
}

func (f fakeTruth) ExpectedCostUSD(c Config) float64 {
	return DefaultPrices().CallUSD(c["a"], f.latency(c)) + 1e-7*float64(c["a"].CPUMilli)
}

func (f fakeTruth) LatencyPercentileMs(c Config, _ float64) float64 { return f.latency(c) }

func (f fakeTruth) MeetsLatency(c Config, _, limitMs float64) bool { return f.latency(c) <= limitMs }

// TestOracleIsTrueOptimum compares the oracle with brute force over a fine grid.
func TestOracleIsTrueOptimum(t *testing.T) {
	s, target := tinySpace(t)
	p, err := NewPolicy(PolicyOracle, s, target, PolicyOptions{Truth: fakeTruth{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Best(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var f fakeTruth
	best, bestCost := Config(nil), math.Inf(1)
	for cpu := 250.0; cpu <= 1000; cpu += 50 {
		for mem := 128.0; mem <= 256; mem += 64 {
			c := s.Config([]float64{cpu, mem})
			if f.latency(c) <= target.LatencyMs && f.ExpectedCostUSD(c) < bestCost {
				best, bestCost = c, f.ExpectedCostUSD(c)
			}
		}
	}
	if s.Key(got) != s.Key(best) {
		t.Errorf("oracle chose %s, brute force %s", s.Key(got), s.Key(best))
	}
	if _, err := NewPolicy(PolicyOracle, s, target, PolicyOptions{}); err == nil {
		t.Error("oracle without truth: want an error")
	}
}

// observe runs n fake invocations of c with lognormal noise, broken down
// by stage: a takes all but 100 ms, b (fixed) the rest and 1% of the cost.
func observe(c Config, n int, rng *rand.Rand) Observation {
	var f fakeTruth
	o := Observation{StageLatencyMs: map[string][]float64{}, StageCostUSD: map[string][]float64{}}
	for i := 0; i < n; i++ {
		l := f.latency(c) * math.Exp(0.05*rng.NormFloat64())
		cost := DefaultPrices().CallUSD(c["a"], l)
		o.LatencyMs = append(o.LatencyMs, l)
		o.CostUSD = append(o.CostUSD, cost)
		o.StageLatencyMs["a"] = append(o.StageLatencyMs["a"], l-100)
		o.StageLatencyMs["b"] = append(o.StageLatencyMs["b"], 100)
		o.StageCostUSD["a"] = append(o.StageCostUSD["a"], 0.99*cost)
		o.StageCostUSD["b"] = append(o.StageCostUSD["b"], 0.01*cost)
	}
	return o
}

// drive explores with p on the tiny workflow's fake truth until it is
// done (each evaluation 100 invocations) and returns its best.
func drive(t *testing.T, p ResourcePolicy, rng *rand.Rand) Config {
	t.Helper()
	ctx := context.Background()
	for {
		c, err := p.Suggest(ctx)
		if errors.Is(err, ErrExplorationDone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Observe(ctx, c, observe(c, 100, rng)); err != nil {
			t.Fatal(err)
		}
	}
	best, err := p.Best(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return best
}

// tinyGraph is the tiny workflow's stages.
func tinyGraph(t testing.TB) []StageNode {
	t.Helper()
	g, err := GraphOf(parse(t, twoFunctionWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestPoliciesRespectBounds drives every policy on the tiny space and checks
// each suggestion and the final choice lie in the space, within budget.
func TestPoliciesRespectBounds(t *testing.T) {
	s, target := tinySpace(t)
	for _, name := range PolicyNames() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p, err := NewPolicy(name, s, target, PolicyOptions{Seed: 3, Budget: 12, Truth: fakeTruth{}, Graph: tinyGraph(t)})
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != name {
				t.Errorf("Name() = %q", p.Name())
			}
			rng := rand.New(rand.NewPCG(1, 1))
			evals := 0
			for ; ; evals++ {
				c, err := p.Suggest(ctx)
				if errors.Is(err, ErrExplorationDone) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if evals >= 12 {
					t.Fatal("policy exceeded its budget")
				}
				if err := s.Contains(c); err != nil {
					t.Fatalf("suggestion %d: %v", evals, err)
				}
				if err := p.Observe(ctx, c, observe(c, 50, rng)); err != nil {
					t.Fatal(err)
				}
			}
			best, err := p.Best(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Contains(best); err != nil {
				t.Errorf("best: %v", err)
			}
		})
	}
	if _, err := NewPolicy("nope", s, target, PolicyOptions{}); err == nil {
		t.Error("unknown policy: want an error")
	}
}

// TestStaticPolicies checks the two fixed configurations.
func TestStaticPolicies(t *testing.T) {
	s, target := tinySpace(t)
	for _, tc := range []struct {
		name string
		want Setting
	}{
		{PolicyStaticMax, Setting{1000, 256 * MiB}},
		{PolicyStaticDefault, Setting{1000, 256 * MiB}}, // 512 MiB clamped to the bound
	} {
		p, err := NewPolicy(tc.name, s, target, PolicyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := p.Best(context.Background())
		if c["a"] != tc.want || c["b"] != (Setting{500, 128 * MiB}) {
			t.Errorf("%s: %+v", tc.name, c)
		}
	}
}

// TestAquatopeFinalChoiceFeasibleOnUCB checks that aquatope's choice meets
// the target on its latency upper confidence bound, and is deterministic.
func TestAquatopeFinalChoiceFeasibleOnUCB(t *testing.T) {
	s, target := tinySpace(t)
	run := func() (*aquatope, Config) {
		p := newAquatope(s, target, 20, 5, AquatopeOptions{FinalOnUCB: true})
		return p, drive(t, p, rand.New(rand.NewPCG(2, 2)))
	}
	p, best := run()
	m, err := p.fit(3)
	if err != nil {
		t.Fatal(err)
	}
	if !p.safeUCB(m, s.Point(best)) {
		mu, v := m.lat.Predict(s.Point(best))
		t.Errorf("best %s: latency UCB exp(%.3f + %g·%.3f) over target", s.Key(best), mu, p.opts.ConfidenceSigmas, math.Sqrt(v))
	}
	if (fakeTruth{}).latency(best) > target.LatencyMs {
		t.Errorf("best %s breaks the true target", s.Key(best))
	}
	if _, again := run(); s.Key(again) != s.Key(best) {
		t.Errorf("same seed, different choices: %s vs %s", s.Key(best), s.Key(again))
	}
}

// TestAquatopeRemeasuresOutlier plants a wild sample and expects its
// configuration to be suggested again and the sample dropped.
func TestAquatopeRemeasuresOutlier(t *testing.T) {
	s, target := tinySpace(t)
	ctx := context.Background()
	// The stopping rule is kept out of the way: this is about outliers.
	p := newAquatope(s, target, 30, 1, AquatopeOptions{StopImprovement: 1e-12})
	rng := rand.New(rand.NewPCG(4, 4))
	var planted Config
	for i := 0; i < 12; i++ {
		c, err := p.Suggest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		o := observe(c, 100, rng)
		if i == 8 {
			planted = c
			for j := range o.LatencyMs {
				o.LatencyMs[j] *= 3
			}
		}
		if p.pending >= 0 && s.Key(c) == s.Key(planted) {
			if err := p.Observe(ctx, c, o); err != nil {
				t.Fatal(err)
			}
			if p.samples[8].state != dropped {
				t.Errorf("planted sample state %d after a normal re-measurement, want dropped", p.samples[8].state)
			}
			return
		}
		if err := p.Observe(ctx, c, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Error("the planted outlier was never re-measured")
}

func TestWindowSafePercentile(t *testing.T) {
	for _, tc := range []struct {
		p        float64
		window   int
		miss     float64
		lo, hi   float64
		tailProb float64
	}{
		{95, 100, 0.01, 98.0, 98.4, 0},
		{95, 100, 0.5, 94, 95.5, 0},
		{99, 100, 0.01, 99.8, 99.9, 0},
	} {
		got := WindowSafePercentile(tc.p, tc.window, tc.miss)
		if got < tc.lo || got > tc.hi {
			t.Errorf("WindowSafePercentile(%g, %d, %g) = %.3f, want in [%g, %g]", tc.p, tc.window, tc.miss, got, tc.lo, tc.hi)
		}
		k := tc.window - int(math.Ceil(tc.p*float64(tc.window)/100))
		if tail := binomialTail(tc.window, k, 1-got/100); tail > tc.miss+1e-9 {
			t.Errorf("miss probability %.4f over %g", tail, tc.miss)
		}
	}
}

func TestCallCost(t *testing.T) {
	// 2 cores × 1.5 s × 0.000024 + 0.5 GiB × 1.5 s × 0.0000025
	got := DefaultPrices().CallUSD(Setting{2000, 512 * MiB}, 1500)
	if want := 2*1.5*0.000024 + 0.5*1.5*0.0000025; math.Abs(got-want) > 1e-15 {
		t.Errorf("CallUSD = %g, want %g", got, want)
	}
}

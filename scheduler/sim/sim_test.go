package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/workflow"
)

// diamond is a → {b (foreach), c} → d with every function fixed, declared
// out of order.
const diamond = `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: diamond}
spec:
  qos: {latency: 1s, percentile: 95}
  functions:
    a: {image: x/a:v1, resources: {cpu: 1000m, memory: 512Mi}}
    b: {image: x/b:v1, resources: {cpu: 500m, memory: 256Mi}}
    c: {image: x/c:v1, resources: {cpu: 1000m, memory: 512Mi}}
    d: {image: x/d:v1, resources: {cpu: 1000m, memory: 512Mi}}
  stages:
    - {name: d, function: d, needs: [b, c]}
    - {name: a, function: a}
    - {name: b, function: b, needs: [a], foreach: items}
    - {name: c, function: c, needs: [a]}
`

// constantProfile gives every stage one latency at every grid point.
func constantProfile(w *workflow.Workflow, ms map[string]float64, items map[string]int) *profile.Profile {
	p := &profile.Profile{Version: profile.Version, Workflow: w.Metadata.Name, Source: "synthetic: test",
		Grid: profile.Grid{CPUMilli: []int64{500, 1000}, MemoryMiB: []int64{256, 512}}}
	for _, st := range w.Spec.Stages {
		ps := profile.Stage{Name: st.Name, Function: st.Function, Items: max(1, items[st.Name])}
		for _, c := range p.Grid.CPUMilli {
			for _, m := range p.Grid.MemoryMiB {
				ps.Points = append(ps.Points, profile.Point{CPUMilli: c, MemoryMiB: m, LatencyMs: []float64{ms[st.Name]}})
			}
		}
		p.Stages = append(p.Stages, ps)
	}
	return p
}

func TestCriticalPath(t *testing.T) {
	w, err := workflow.Parse("diamond.yaml", []byte(diamond))
	if err != nil {
		t.Fatal(err)
	}
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prices := scheduler.DefaultPrices()
	for _, tc := range []struct {
		name   string
		ms     map[string]float64
		bItems int
		want   float64
	}{
		{"c is critical", map[string]float64{"a": 100, "b": 50, "c": 120, "d": 10}, 4, 230},
		{"foreach b is critical", map[string]float64{"a": 100, "b": 200, "c": 120, "d": 10}, 3, 310},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(w, constantProfile(w, tc.ms, map[string]int{"b": tc.bItems}), prices)
			if err != nil {
				t.Fatal(err)
			}
			c := space.Max()
			o := s.Run(c, 3, rand.New(rand.NewPCG(1, 1)))
			wantCost := prices.CallUSD(c["a"], tc.ms["a"]) + float64(tc.bItems)*prices.CallUSD(c["b"], tc.ms["b"]) +
				prices.CallUSD(c["c"], tc.ms["c"]) + prices.CallUSD(c["d"], tc.ms["d"])
			for i := range o.LatencyMs {
				if o.LatencyMs[i] != tc.want {
					t.Errorf("latency %g, want %g", o.LatencyMs[i], tc.want)
				}
				if math.Abs(o.CostUSD[i]-wantCost) > 1e-15 {
					t.Errorf("cost %g, want %g", o.CostUSD[i], wantCost)
				}
			}
			if got := s.ExpectedCostUSD(c); math.Abs(got-wantCost) > 1e-15 {
				t.Errorf("expected cost %g, want %g", got, wantCost)
			}
			if got := s.LatencyPercentileMs(c, 95); got != tc.want {
				t.Errorf("true p95 %g, want %g", got, tc.want)
			}
		})
	}
}

// TestForeachTakesSlowestItem checks that parallel items end with the slowest.
func TestForeachTakesSlowestItem(t *testing.T) {
	m, err := newStageModel(profile.Grid{CPUMilli: []int64{1000}, MemoryMiB: []int64{256}},
		&profile.Stage{Name: "b", Items: 3, Points: []profile.Point{{CPUMilli: 1000, MemoryMiB: 256, LatencyMs: []float64{40, 10, 30, 20}}}})
	if err != nil {
		t.Fatal(err)
	}
	s := &Simulator{stages: []simStage{{name: "b", function: "b", items: 3, model: m}}, prices: scheduler.DefaultPrices()}
	us := []float64{0.1, 0.6, 0.3} // quantiles → 10, 30, 20
	k := 0
	next := func() float64 { k++; return us[k-1] }
	lat, _ := s.invoke(next, s.newInvocation(scheduler.Config{"b": {CPUMilli: 1000, MemoryBytes: 256 * scheduler.MiB}}), nil)
	if lat != 30 {
		t.Errorf("foreach latency %g, want the slowest item 30", lat)
	}
}

func TestStageModelInterpolation(t *testing.T) {
	st := &profile.Stage{Name: "s", Items: 1, Points: []profile.Point{
		{CPUMilli: 500, MemoryMiB: 128, LatencyMs: []float64{200, 220, 240, 260}},
		{CPUMilli: 2000, MemoryMiB: 128, LatencyMs: []float64{100, 110, 120, 130}},
	}}
	m, err := newStageModel(profile.Grid{CPUMilli: []int64{500, 2000}, MemoryMiB: []int64{128}}, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		cpu, mem float64
		u        float64
		want     float64
		wantMean float64
	}{
		{"on the grid", 500, 128, 0.6, 240, 230},
		{"geometric middle", 1000, 128, 0, 150, 172.5},
		{"below the grid clamps", 100, 64, 0.99, 260, 230},
		{"above the grid clamps", 4000, 1024, 0.3, 110, 115},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.sample(tc.cpu, tc.mem, tc.u); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("sample = %g, want %g", got, tc.want)
			}
			if got := m.mean(tc.cpu, tc.mem); math.Abs(got-tc.wantMean) > 1e-9 {
				t.Errorf("mean = %g, want %g", got, tc.wantMean)
			}
		})
	}
}

// TestTuneShippedProfile runs every policy on ml-pipeline with a few seeds
// and checks the report's invariants (not its figures against targets:
// timing and quality figures are measured and reported, never asserted).
func TestTuneShippedProfile(t *testing.T) {
	s, space, target, rep := tuneProfile(t, loadWorkflow(t, "ml-pipeline"), shippedProfile(t), TuneOptions{Seeds: 2, Windows: 5})
	if len(rep.Results) != len(scheduler.PolicyNames()) {
		t.Fatalf("%d results", len(rep.Results))
	}
	if s.LatencyPercentileMs(rep.OracleConfig, 95) > target.LatencyMs {
		t.Error("the oracle's choice breaks the target")
	}
	for _, r := range rep.Results {
		if r.Evaluations > float64(rep.Budget) {
			t.Errorf("%s: %.1f evaluations over budget %d", r.Policy, r.Evaluations, rep.Budget)
		}
	}
	for _, run := range rep.Runs {
		if err := space.Contains(run.Chosen); err != nil {
			t.Errorf("%s seed %d: %v", run.Policy, run.Seed, err)
		}
		if run.TrueLatencyMs <= target.LatencyMs && run.CostUSD < rep.OracleCostUSD*(1-1e-9) {
			// The oracle's CPU grid is 50m; a continuous choice may beat it by a hair, not by more.
			if run.CostUSD < rep.OracleCostUSD*0.97 {
				t.Errorf("%s seed %d: feasible at %.3g, well under the oracle's %.3g", run.Policy, run.Seed, run.CostUSD, rep.OracleCostUSD)
			}
		}
	}
}

// shippedProfile regenerates the shipped synthetic profile.
func shippedProfile(t testing.TB) *profile.Profile {
	t.Helper()
	w := loadWorkflow(t, "ml-pipeline")
	p, err := Synthetic(w, mlPipelineSynthetic(), defaultGrid(), 30, 6, time0())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestShippedMeasuredProfiles runs the simulation on the measured profile
// shipped with every sample workflow (dags/profiles, written by `baton
// profile` on containerd): each matches its workflow, and the report keeps
// its invariants (the oracle's choice meets the target, aquatope's is
// within the space and costs no more than the upper bounds).
func TestShippedMeasuredProfiles(t *testing.T) {
	for _, name := range []string{"ml-pipeline", "video-analytics", "social-compose", "wordcount"} {
		t.Run(name, func(t *testing.T) {
			w := loadWorkflow(t, name)
			path := filepath.Join("..", "..", "dags", "profiles", name+".json")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, err := profile.Parse(path, data)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(p.Source, "measured:") || p.Workflow != name {
				t.Fatalf("profile of %q from %q: want a measured profile of %q", p.Workflow, p.Source, name)
			}
			s, space, target, rep := tuneProfile(t, w, p, TuneOptions{
				Policies: []string{scheduler.PolicyAquatope, scheduler.PolicyStaticMax, scheduler.PolicyOracle}, Seeds: 2, Windows: 5})
			if got := s.LatencyPercentileMs(rep.OracleConfig, target.Percentile); got > target.LatencyMs {
				t.Errorf("the oracle's choice has p%g %.0f ms, over the %.0f ms target", target.Percentile, got, target.LatencyMs)
			}
			for _, run := range rep.Runs {
				if err := space.Contains(run.Chosen); err != nil {
					t.Errorf("%s seed %d: %v", run.Policy, run.Seed, err)
				}
				if run.Policy == scheduler.PolicyAquatope && run.CostUSD > s.ExpectedCostUSD(space.Max())*(1+1e-9) {
					t.Errorf("aquatope seed %d costs %.3g, more than the upper bounds' %.3g", run.Seed, run.CostUSD, s.ExpectedCostUSD(space.Max()))
				}
			}
		})
	}
}

// tuneProfile simulates w from p and compares policies on it.
func tuneProfile(t *testing.T, w *workflow.Workflow, p *profile.Profile, opts TuneOptions) (*Simulator, *scheduler.Space, scheduler.Target, *Report) {
	t.Helper()
	s, err := New(w, p, scheduler.DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := scheduler.TargetOf(w)
	rep, err := Tune(context.Background(), s, space, target, p.Source, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, space, target, rep
}

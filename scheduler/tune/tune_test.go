package tune_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/scheduler/sim"
	"baton.dev/baton/scheduler/tune"
	"baton.dev/baton/workflow"
)

// fakeCluster is a fake Baton for the tuning loop: invocations are drawn
// from the simulator's model of the workflow under the applied
// configuration. Named a fake: the live loop runs in `baton tune`.
type fakeCluster struct {
	sim      *sim.Simulator
	rng      *rand.Rand
	applied  []scheduler.Config
	reasons  []string
	kinds    []string
	recorded int
	fresh    bool // the first invocation after Apply is cold
	// drift, when > 0, scales every latency: the workload got heavier.
	drift float64
	// stages says to report every invocation's stages.
	stages bool
}

func (f *fakeCluster) Apply(_ context.Context, c scheduler.Config, why tune.Change) error {
	f.applied = append(f.applied, c)
	f.reasons = append(f.reasons, why.Reason)
	f.kinds = append(f.kinds, why.Kind)
	f.fresh = true
	return nil
}

func (f *fakeCluster) Invoke(context.Context) (tune.Invocation, error) {
	cold := 0
	if f.fresh {
		cold, f.fresh = 1, false
	}
	o := f.run()
	inv := tune.Invocation{LatencyMs: o.LatencyMs[0], CostUSD: o.CostUSD[0], ColdStarts: cold}
	for stage, ms := range o.StageLatencyMs {
		if f.stages {
			inv.Stages = append(inv.Stages, tune.StageRun{Stage: stage, Calls: 1, ExecMs: ms[0], LatencyMs: ms[0], CostUSD: o.StageCostUSD[stage][0]})
		}
	}
	return inv, nil
}

// run is one invocation under the configuration applied last.
func (f *fakeCluster) run() scheduler.Observation {
	o := f.sim.Run(f.applied[len(f.applied)-1], 1, f.rng)
	if f.drift > 0 {
		o.LatencyMs[0] *= f.drift
	}
	return o
}

// draw is one invocation's latency and cost under the configuration
// applied last.
func (f *fakeCluster) draw() (latencyMs, costUSD float64) {
	o := f.run()
	return o.LatencyMs[0], o.CostUSD[0]
}

func (f *fakeCluster) Record(context.Context, scheduler.Config, float64, float64) error {
	f.recorded++
	return nil
}

// TestRunAppliesASafeCheaperConfiguration tunes ml-pipeline against the
// synthetic profile: every evaluation is applied and recorded, and the
// configuration applied last is the policy's best, meets the QoS on the
// model's truth and costs less than the upper bounds.
func TestRunAppliesASafeCheaperConfiguration(t *testing.T) {
	w, s := mlPipeline(t)
	fc := &fakeCluster{sim: s, rng: rand.New(rand.NewPCG(1, 2))}
	res, err := tune.Run(context.Background(), w, fc, tune.Options{Budget: 12, PerEvaluation: 40, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if res.Evaluations == 0 || fc.recorded != res.Evaluations || len(fc.applied) != res.Evaluations+1 {
		t.Fatalf("%d evaluations, %d recorded, %d applied; want each evaluation recorded and applied, and the best applied", res.Evaluations, fc.recorded, len(fc.applied))
	}
	for i, kind := range fc.kinds {
		if want := map[bool]string{true: tune.KindTune, false: tune.KindExplore}[i == len(fc.kinds)-1]; kind != want {
			t.Errorf("application %d of %d was a change of kind %q, want %q", i+1, len(fc.kinds), kind, want)
		}
	}
	last := fc.applied[len(fc.applied)-1]
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if space.Key(last) != space.Key(res.Best) {
		t.Errorf("applied last %v, but the result's best is %v", last, res.Best)
	}
	target, _ := scheduler.TargetOf(w)
	if got := s.LatencyPercentileMs(last, target.Percentile); got > target.LatencyMs {
		t.Errorf("the applied configuration's true p%g is %.0f ms, over the %.0f ms target", target.Percentile, got, target.LatencyMs)
	}
	if s.ExpectedCostUSD(last) >= s.ExpectedCostUSD(space.Max()) {
		t.Errorf("the applied configuration costs %.3g, no less than the upper bounds' %.3g", s.ExpectedCostUSD(last), s.ExpectedCostUSD(space.Max()))
	}
}

// TestRunWithAStagePolicy tunes ml-pipeline with aquatope-stages, which
// needs the invocations' stages: from a cluster that reports them, it
// spends its budget and the applied configuration meets the QoS on the
// model's truth (at the workflow's own target, which binds on this
// profile, it may be the upper bounds); from one that does not, tuning
// fails saying so.
func TestRunWithAStagePolicy(t *testing.T) {
	w, s := mlPipeline(t)
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := scheduler.TargetOf(w)
	for _, tc := range []struct {
		name    string
		stages  bool
		wantErr string
	}{
		{"stages reported", true, ""},
		{"no stages", false, "broken down by stage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := &fakeCluster{sim: s, rng: rand.New(rand.NewPCG(1, 2)), stages: tc.stages}
			res, err := tune.Run(context.Background(), w, fc, tune.Options{Policy: scheduler.PolicyAquatopeStages, Budget: 12, PerEvaluation: 40, Seed: 7})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.LatencyPercentileMs(res.Best, target.Percentile); got > target.LatencyMs {
				t.Errorf("the applied configuration's true p%g is %.0f ms, over the %.0f ms target", target.Percentile, got, target.LatencyMs)
			}
			if res.Evaluations != 12 || space.Contains(res.Best) != nil {
				t.Errorf("%d evaluations of 12, best %v", res.Evaluations, res.Best)
			}
		})
	}
}

// mlPipeline loads the ml-pipeline sample and its synthetic profile's
// simulator.
func mlPipeline(t *testing.T) (*workflow.Workflow, *sim.Simulator) {
	t.Helper()
	w := sample(t, "ml-pipeline")
	data, err := os.ReadFile("../testdata/ml-pipeline.synthetic.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse("ml-pipeline.synthetic.json", data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(w, p, scheduler.DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	return w, s
}

// scriptedCluster answers invocations from a script: a latency, or a
// failure (a negative latency).
type scriptedCluster struct {
	script []float64
	next   int
}

func (s *scriptedCluster) Apply(context.Context, scheduler.Config, tune.Change) error { return nil }
func (s *scriptedCluster) Record(context.Context, scheduler.Config, float64, float64) error {
	return nil
}
func (s *scriptedCluster) Invoke(context.Context) (tune.Invocation, error) {
	l := s.script[s.next%len(s.script)]
	s.next++
	if l < 0 {
		return tune.Invocation{}, errors.New("failed")
	}
	return tune.Invocation{LatencyMs: l, CostUSD: 0.001}, nil
}

// TestMeasureAndJudgeAgree: the same invocations, measured while tuning
// and judged while watching, give the same percentile and the same
// verdict (the two used to differ: interpolation and a failure as twice
// the worst latency against nearest rank and a failure as a miss).
func TestMeasureAndJudgeAgree(t *testing.T) {
	target := scheduler.Target{LatencyMs: 100, Percentile: 95}
	tests := []struct {
		name   string
		script []float64 // -1: a failure
	}{
		{"all succeed", []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 99, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99}},
		{"one failure within the 5% allowed", []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 99, 10, 20, 30, 40, 50, 60, 70, 80, 90, -1}},
		{"failures past the percentile", []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 99, 10, 20, 30, 40, 50, 60, 70, 80, -1, -1}},
		{"slow tail", []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 99, 10, 20, 30, 40, 50, 60, 70, 80, 150, 160}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sum, err := tune.Measure(context.Background(), &scriptedCluster{script: tt.script}, len(tt.script), target.Percentile)
			if err != nil {
				t.Fatal(err)
			}
			var window []tune.Completed
			for i, l := range tt.script {
				window = append(window, tune.Completed{ID: fmt.Sprint(i), LatencyMs: max(l, 0), Failed: l < 0})
			}
			judged, failed, missed := tune.Judge(window, target)
			if float64(sum.LatencyMs) != judged || sum.Errors != failed {
				t.Errorf("Measure: p95 %v, %d errors; Judge: p95 %v, %d failed", sum.LatencyMs, sum.Errors, judged, failed)
			}
			if measuredMiss := float64(sum.LatencyMs) > target.LatencyMs; measuredMiss != missed {
				t.Errorf("Measure says missed=%v, Judge says %v", measuredMiss, missed)
			}
		})
	}
}

// sample parses the sample workflow dags/NAME.yaml.
func sample(t *testing.T, name string) *workflow.Workflow {
	t.Helper()
	doc, err := os.ReadFile("../../dags/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, err := workflow.Parse(name+".yaml", doc)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/workflow"
)

// scalable is one stage whose time falls as 1/CPU up to two cores, memory
// fixed, under a QoS slack enough for its slowest setting and a cold start:
// its execution cost falls with CPU (the memory-seconds shrink), the price
// of keeping it warm rises with it.
const scalable = `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: scalable}
spec:
  qos: {latency: 2s, percentile: 95}
  functions:
    work:
      image: x/work:v1
      resources: {cpu: auto, memory: 1Gi}
      bounds: {cpu: [250m, 2000m]}
  stages:
    - {name: work, function: work}
`

// scalableSim simulates scalable from a synthetic profile.
func scalableSim(t *testing.T) (*Simulator, *scheduler.Space, scheduler.Target, string) {
	t.Helper()
	w, err := workflow.Parse("scalable.yaml", []byte(scalable))
	if err != nil {
		t.Fatal(err)
	}
	grid := defaultGrid()
	grid.MemoryMiB = []int64{1024}
	p, err := Synthetic(w, map[string]SyntheticStage{"work": {ParallelMs: 200, MaxCores: 2, WorkingSetMiB: 64, Noise: 0.05}}, grid, 20, 1, time0())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(w, p, scheduler.DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target, err := scheduler.TargetOf(w)
	if err != nil {
		t.Fatal(err)
	}
	return s, space, target, p.Source
}

// TestTuneTogetherAtALowRate: invoked once a minute, keeping a sandbox
// warm costs more than its execution (with the plan's allowed cold share,
// about one and a half times: the planner keeps a sandbox only between
// close calls), so choosing with the
// idle cost picks a small CPU where execution cost alone picks a large one,
// and costs less in total. It fails if the joint objective is not used.
func TestTuneTogetherAtALowRate(t *testing.T) {
	s, space, target, source := scalableSim(t)
	rep, err := Tune(context.Background(), s, space, target, source, TuneOptions{
		Policies: []string{scheduler.PolicyAquatope}, Seeds: 2, Windows: 5, ArrivalsPerMinute: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Prewarm == nil || len(rep.Prewarm.Results) != 2 {
		t.Fatalf("pre-warm report %+v: want two-step and together", rep.Prewarm)
	}
	two, together := rep.Prewarm.Results[0], rep.Prewarm.Results[1]
	if two.Mode != ModeTwoStep || together.Mode != ModeTogether {
		t.Fatalf("modes %s, %s", two.Mode, together.Mode)
	}
	if !(together.TotalUSD < two.TotalUSD) || !(together.IdleShare > 0.5) {
		t.Errorf("total $%.4g together against $%.4g two-step (idle share %.1f%%): want less together, idle the larger part",
			together.TotalUSD*1000, two.TotalUSD*1000, together.IdleShare*100)
	}
	for _, run := range rep.Runs {
		cpu := run.Chosen["work"].CPUMilli
		t.Logf("seed %d together %v: %dm, $%.4f + $%.4f per 1k, evaluations %d", run.Seed, run.Together, cpu, run.Prewarm.ExecUSD*1000, run.Prewarm.IdleUSD*1000, run.Evaluations)
		if run.Together && cpu > 600 || !run.Together && cpu < 1200 {
			t.Errorf("seed %d, together %v: %dm: want a small CPU together, a large one for execution alone", run.Seed, run.Together, cpu)
		}
	}
}

// TestTuneWithoutRateUnchanged: the execution-only results are the same
// with the pre-warm comparison as without it.
func TestTuneWithoutRateUnchanged(t *testing.T) {
	s, space, target, source := scalableSim(t)
	opts := TuneOptions{Policies: []string{scheduler.PolicyRandom, scheduler.PolicyStaticMax}, Seeds: 2, Windows: 5, Parallel: 1}
	before, err := Tune(context.Background(), s, space, target, source, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.ArrivalsPerMinute = 10
	after, err := Tune(context.Background(), s, space, target, source, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before.Results {
		before.Results[i].DecisionMs, after.Results[i].DecisionMs = 0, 0
	}
	if !reflect.DeepEqual(before.Results, after.Results) || before.Prewarm != nil {
		t.Errorf("results %+v without a rate, %+v with one: want the same, and no pre-warm report without", before.Results, after.Results)
	}
}

func TestPrewarmedPricesAndColdStarts(t *testing.T) {
	s, space, target, _ := scalableSim(t)
	pw, err := NewPrewarmed(s, space, target, 1)
	if err != nil {
		t.Fatal(err)
	}
	small, big := space.Config([]float64{250}), space.Max()
	ps, err := pw.At(small)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := pw.At(big)
	if err != nil {
		t.Fatal(err)
	}
	// Idle and start-up priced at the sandbox's rate. (The sandbox-seconds
	// differ a little: with an allowed cold share the idle between calls
	// is the level model's, which depends on the calls' duration.)
	rs, rb := s.prices.Rate(250, 1<<30), s.prices.Rate(2000, 1<<30)
	for _, c := range []struct {
		pc   *PrewarmCost
		rate float64
	}{{ps, rs}, {pb, rb}} {
		if want := (c.pc.Idle.IdleSeconds + c.pc.Idle.StartSeconds) * c.rate; math.Abs(c.pc.IdleUSD-want) > 1e-9*want || want <= 0 {
			t.Errorf("idle $%g, want (idle + start-up s) × rate = $%g > 0", c.pc.IdleUSD, want)
		}
	}
	if ps.ExecUSD <= pb.ExecUSD {
		t.Errorf("execution $%g at 250m, $%g at 2000m: want the small CPU dearer to run", ps.ExecUSD, pb.ExecUSD)
	}
	// Half the calls find it cold at once a minute (kept 30 s): the
	// latencies show it.
	o, err := pw.Run(big, 2000, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	warm := s.Run(big, 2000, rand.New(rand.NewPCG(1, 1)))
	if mean(o.LatencyMs) < mean(warm.LatencyMs)+0.2*ps.coldMs[0] {
		t.Errorf("mean latency %.0f ms pre-warmed, %.0f ms warm: want cold starts in it", mean(o.LatencyMs), mean(warm.LatencyMs))
	}
	if _, err := NewPrewarmed(s, space, target, 0); err == nil {
		t.Error("a rate of 0: want an error")
	}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

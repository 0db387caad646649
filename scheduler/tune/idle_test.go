package tune_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/tune"
	"baton.dev/baton/workflow"
)

// idleWorkflow is two stages: extract (function f, 100m CPU and auto
// memory) then load (function g, fixed), within 1 s at p95.
const idleWorkflow = `apiVersion: baton.dev/v1
kind: Workflow
metadata:
  name: etl
spec:
  qos: {latency: 1s, percentile: 95}
  functions:
    f:
      image: baton.local/fn-f:v1
      resources: {cpu: 100m, memory: auto}
      bounds: {memory: [128Mi, 2048Mi]}
    g:
      image: baton.local/fn-g:v1
      resources: {cpu: 100m, memory: 128Mi}
  stages:
    - {name: extract, function: f}
    - {name: load, function: g, needs: [extract]}
`

// idleCluster is a fake Baton whose invocations always meet the QoS warm
// (extract about 50 ms, load 30 ms) and report their stages. Its
// execution cost is what execUSD says of f's memory; below slowStartMiB,
// f's sandboxes are measured starting in 5 s (else 300 ms), a cold start
// that breaks the QoS.
type idleCluster struct {
	rng          *rand.Rand
	execUSD      func(memoryMiB int64) float64
	slowStartMiB int64
	applied      scheduler.Config
	fresh        bool
	// evaluated holds f's memory at every configuration measured (applied
	// to explore), recordedUSD the costs recorded in history.
	evaluated   []int64
	recordedUSD []float64
}

func (c *idleCluster) Apply(_ context.Context, cfg scheduler.Config, why tune.Change) error {
	c.applied, c.fresh = cfg, true
	if why.Kind == tune.KindExplore {
		c.evaluated = append(c.evaluated, cfg["f"].MemoryBytes>>20)
	}
	return nil
}

func (c *idleCluster) Invoke(context.Context) (tune.Invocation, error) {
	mem := c.applied["f"].MemoryBytes >> 20
	extract := 50 * math.Exp(0.1*c.rng.NormFloat64())
	load := 30 * math.Exp(0.1*c.rng.NormFloat64())
	inv := tune.Invocation{
		LatencyMs: extract + load + 5, CostUSD: c.execUSD(mem),
		Stages: []tune.StageRun{
			{Stage: "extract", Calls: 1, ExecMs: extract},
			{Stage: "load", Calls: 1, ExecMs: load},
		},
	}
	if c.fresh {
		c.fresh = false
		start := 300.0
		if mem < c.slowStartMiB {
			start = 5000
		}
		inv.ColdStarts, inv.Stages[0].Cold, inv.Stages[0].ColdStartMs = 1, true, start
		inv.LatencyMs += start
	}
	return inv, nil
}

func (c *idleCluster) Record(_ context.Context, _ scheduler.Config, _, costUSD float64) error {
	c.recordedUSD = append(c.recordedUSD, costUSD)
	return nil
}

// TestRunPricesIdle tunes f's memory with random search (which keeps the
// cheapest safe configuration it measured) and checks which of the
// configurations it measured it chose: with execution cost alone, the
// largest memory (marginally cheaper to execute); with idle priced, the
// smallest (its idle sandboxes are far cheaper); and with the small
// memories' plans unable to meet the QoS at a low rate, the smallest
// memory whose plan can, though the others cost less.
func TestRunPricesIdle(t *testing.T) {
	w, err := workflow.Parse("etl.yaml", []byte(idleWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	nearlyFlat := func(mem int64) float64 { return 2e-6 - 1e-11*float64(mem) }
	// Below 1 GiB, execution is cheap but the sandboxes start in 5 s.
	cheapButSlowToStart := func(mem int64) float64 {
		if mem < 1024 {
			return 1e-5
		}
		return 0.05
	}
	tests := []struct {
		name         string
		rate         float64 // invocations a minute; 0 prices execution alone
		execUSD      func(int64) float64
		slowStartMiB int64
		// want picks the memory that should be chosen among those measured.
		want func(evaluated []int64) int64
	}{
		{"execution cost alone", 0, nearlyFlat, 0, slices.Max[[]int64]},
		{"idle priced", 1, nearlyFlat, 0, slices.Min[[]int64]},
		{"a plan that cannot meet the QoS is unsafe", 0.01, cheapButSlowToStart, 1024, func(ev []int64) int64 {
			return slices.Min(atLeast(ev, 1024))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := &idleCluster{rng: rand.New(rand.NewPCG(1, 2)), execUSD: tt.execUSD, slowStartMiB: tt.slowStartMiB}
			res, err := tune.Run(context.Background(), w, cl, tune.Options{Policy: scheduler.PolicyRandom, Budget: 10, PerEvaluation: 10, Seed: 3, ArrivalsPerMinute: tt.rate})
			if err != nil {
				t.Fatal(err)
			}
			if tt.slowStartMiB > 0 && (len(atLeast(cl.evaluated, tt.slowStartMiB)) == 0 || len(atLeast(cl.evaluated, tt.slowStartMiB)) == len(cl.evaluated)) {
				t.Fatalf("measured memories %v: the test needs some below %d MiB and some not", cl.evaluated, tt.slowStartMiB)
			}
			got, want := res.Best["f"].MemoryBytes>>20, tt.want(cl.evaluated)
			if got != want {
				t.Errorf("chose %d MiB among %v, want %d MiB (idle %+v)", got, cl.evaluated, want, res.Idle)
			}
			for i, usd := range cl.recordedUSD {
				if want := tt.execUSD(cl.evaluated[i]); math.Abs(usd-want) > 1e-12 {
					t.Errorf("evaluation %d recorded $%g in history, want its execution cost $%g", i+1, usd, want)
				}
			}
			if tt.rate == 0 {
				if res.Idle != nil {
					t.Errorf("idle %+v without an arrival rate", res.Idle)
				}
				return
			}
			id := res.Idle
			if id == nil || !id.Feasible || !(id.IdleUSD > 0) || id.ArrivalsPerMinute != tt.rate || math.Abs(id.TotalUSD-id.ExecUSD-id.IdleUSD) > 1e-15 || math.Abs(id.ExecUSD-tt.execUSD(got)) > 1e-12 {
				t.Errorf("the choice's idle %+v: want it feasible, priced at %g a minute, execution and idle adding up to the total", id, tt.rate)
			}
			if len(id.MeasuredColdStarts) != 1 || id.MeasuredColdStarts[0] != "f" {
				t.Errorf("functions whose cold start was measured: %v, want [f]", id.MeasuredColdStarts)
			}
		})
	}
}

func atLeast(ms []int64, lo int64) []int64 {
	var out []int64
	for _, m := range ms {
		if m >= lo {
			out = append(out, m)
		}
	}
	return out
}

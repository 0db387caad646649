package tune_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/trace"
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

// TestShape describes wordcount (split, a foreach map of at most 2 at once,
// reduce) from measured stages: structure, widths, element times fitted
// over warm runs only, and cold starts measured or from memory.
func TestShape(t *testing.T) {
	w := sample(t, "wordcount")
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := space.Max()
	// Two warm invocations, the map 4 calls of 100 ms then 6 of 400 ms
	// (mean per call 100 and 400 ms), and a cold one whose map took far
	// longer and whose split and map were measured starting.
	warm := func(mapMs float64, calls int) []tune.StageRun {
		return []tune.StageRun{
			{Stage: "split", Calls: 1, ExecMs: 50},
			{Stage: "map", Calls: calls, ExecMs: mapMs * float64(calls)},
			{Stage: "reduce", Calls: 1, ExecMs: 20},
		}
	}
	cold := warm(5000, 4)
	cold[0].Cold, cold[0].ColdStartMs = true, 700
	cold[1].Cold = true // cold, its start not measured
	runs := [][]tune.StageRun{cold, warm(100, 4), warm(400, 6)}
	shape, measured, err := tune.Shape(w, c, runs)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape.Stages) != 3 || shape.Latency != 2*time.Second || shape.Percentile != 95 {
		t.Fatalf("shape %+v: want wordcount's three stages within 2 s at p95", shape)
	}
	split, mapStage, reduce := shape.Stages[0], shape.Stages[1], shape.Stages[2]
	if mapStage.Width != 6 || mapStage.Parallel != 2 || !slices.Equal(mapStage.Needs, []int{0}) || !slices.Equal(reduce.Needs, []int{1}) {
		t.Errorf("map %+v, reduce %+v: want map 6 wide, 2 at once, after split; reduce after map", mapStage, reduce)
	}
	// Warm runs only: the geometric mean of 100 and 400 ms, sigma ln(4)/2.
	if math.Abs(mapStage.Median.Seconds()-0.2) > 1e-6 || math.Abs(mapStage.Sigma-math.Log(4)/2) > 1e-9 {
		t.Errorf("map's element time: median %v, sigma %.4f; want 200ms and %.4f (its warm runs')", mapStage.Median, mapStage.Sigma, math.Log(4)/2)
	}
	if split.ColdStart != 700*time.Millisecond {
		t.Errorf("split's cold start %v, want the 700ms measured", split.ColdStart)
	}
	mem := float64(c["count-words"].MemoryBytes) / scheduler.MiB
	if want := trace.ColdStartFor(mem); mapStage.ColdStart != want {
		t.Errorf("map's cold start %v, want %v from its %.0f MiB (not measured)", mapStage.ColdStart, want, mem)
	}
	if !slices.Equal(measured, []string{"split-text"}) {
		t.Errorf("measured cold starts of %v, want [split-text]", measured)
	}
	if _, _, err := tune.Shape(w, c, [][]tune.StageRun{warm(100, 4)[:2]}); err == nil || !strings.Contains(err.Error(), "reduce") {
		t.Errorf("a stage never measured: error %v, want one naming it", err)
	}
}

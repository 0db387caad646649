package tune

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// Invocation is one invocation as the cluster measured it.
type Invocation struct {
	// LatencyMs is its end-to-end latency, CostUSD its execution cost.
	LatencyMs, CostUSD float64
	// ColdStarts counts the stages that waited for a cold start.
	ColdStarts int
	// Stages is how its stages ran: needed only when tuning prices idle
	// (Options.ArrivalsPerMinute) or the policy models stages
	// (scheduler.UsesStages); a cluster may leave it nil otherwise.
	Stages []StageRun
}

// StageRun is how one stage of an invocation ran.
type StageRun struct {
	Stage string
	// Calls is how many calls it made (a foreach's fan-out, else 1) and
	// ExecMs their execution time summed, without waiting for a sandbox.
	Calls  int
	ExecMs float64
	// Cold says a call waited for a new sandbox; ColdStartMs is how long
	// that sandbox took to start when the cluster measured it (0: not
	// measured).
	Cold        bool
	ColdStartMs float64
	// LatencyMs is how long the stage took, from its start to its last
	// call's end, and CostUSD what its calls cost (0: not measured; a
	// policy that models stages needs both).
	LatencyMs, CostUSD float64
}

// IdleCost is a configuration's cost with the idle of the QoS-aware
// pre-warm plan it implies, at an arrival rate (Options.ArrivalsPerMinute).
type IdleCost struct {
	ArrivalsPerMinute float64 `json:"arrivalsPerMinute"`
	// ExecUSD is the measured mean execution cost per invocation, IdleUSD
	// the plan's idle and start-up cost per invocation (prewarm.IdleCost),
	// TotalUSD their sum: the tuner's objective.
	ExecUSD  float64 `json:"execUsd"`
	IdleUSD  float64 `json:"idleUsd"`
	TotalUSD float64 `json:"totalUsd"`
	// ViolationRate is the share of invocations the plan expects past the
	// QoS with the cold starts it lets through, Allowed 1 − percentile;
	// Feasible says the QoS is attainable and ViolationRate within Allowed.
	// An infeasible configuration is judged unsafe.
	ViolationRate float64 `json:"violationRate"`
	Allowed       float64 `json:"allowed"`
	Feasible      bool    `json:"feasible"`
	// MeasuredColdStarts names the functions whose cold start was measured
	// at this configuration; the others' come from their memory
	// (trace.ColdStartFor).
	MeasuredColdStarts []string `json:"measuredColdStarts,omitempty"`
}

// idlePricer prices configurations of one workflow with their pre-warm
// plan's idle at an arrival rate.
type idlePricer struct {
	w         *workflow.Workflow
	perSecond float64
	prices    scheduler.Prices
}

// newIdlePricer prices w's configurations at arrivalsPerMinute (nil when it
// is 0: idle is not priced).
func newIdlePricer(w *workflow.Workflow, arrivalsPerMinute float64, prices scheduler.Prices) (*idlePricer, error) {
	if arrivalsPerMinute == 0 {
		return nil, nil
	}
	if !(arrivalsPerMinute > 0) || math.IsInf(arrivalsPerMinute, 0) {
		return nil, fmt.Errorf("%v invocations a minute: want a finite rate > 0", arrivalsPerMinute)
	}
	if prices == (scheduler.Prices{}) {
		prices = scheduler.DefaultPrices()
	}
	return &idlePricer{w: w, perSecond: arrivalsPerMinute / 60, prices: prices}, nil
}

// price plans c from the stages of its measured invocations (PlanQoS on
// Shape) and prices the plan's idle (prewarm.IdleCost) at the function's
// rates at c; execUSD is the measured execution cost per invocation.
func (p *idlePricer) price(c scheduler.Config, execUSD float64, runs [][]StageRun) (*IdleCost, error) {
	shape, measured, err := Shape(p.w, c, runs)
	if err != nil {
		return nil, err
	}
	plan, err := prewarm.PlanQoS(shape)
	if err != nil {
		return nil, fmt.Errorf("pre-warm plan: %w", err)
	}
	rates := map[string]float64{}
	for _, st := range shape.Stages {
		set := c[st.Function]
		rates[st.Function] = p.prices.Rate(set.CPUMilli, set.MemoryBytes)
	}
	est, err := prewarm.IdleCost(shape, plan, p.perSecond, rates)
	if err != nil {
		return nil, err
	}
	return &IdleCost{
		ArrivalsPerMinute: p.perSecond * 60,
		ExecUSD:           execUSD, IdleUSD: est.USD, TotalUSD: execUSD + est.USD,
		ViolationRate: est.ViolationRate, Allowed: est.Allowed, Feasible: est.Feasible,
		MeasuredColdStarts: measured,
	}, nil
}

// Shape describes w at configuration c to the QoS-aware pre-warm plan
// (prewarm.PlanQoS) from the stages of invocations measured there (runs,
// one slice per invocation): its structure as the live plan's
// (decide.QoSShape), a foreach stage as wide as its widest measured
// fan-out; each stage's element time log-normal (prewarm.FitLogNormal)
// over its warm runs' execution time per call (its cold runs' when it had
// no warm one; a foreach's per-call mean, which understates the calls'
// spread); each function's cold start the mean of those measured at c,
// else from its memory (trace.ColdStartFor), as the simulator's. measured
// names the functions whose cold start was measured.
func Shape(w *workflow.Workflow, c scheduler.Config, runs [][]StageRun) (shape prewarm.WorkflowShape, measured []string, err error) {
	type stageTimes struct{ warm, cold []float64 }
	times := map[string]*stageTimes{}
	fanOut := map[string]int{}
	coldSum, coldN := map[string]float64{}, map[string]int{}
	for _, inv := range runs {
		for _, r := range inv {
			st := w.Stage(r.Stage)
			if st == nil || r.Calls <= 0 {
				continue
			}
			t := times[r.Stage]
			if t == nil {
				t = &stageTimes{}
				times[r.Stage] = t
			}
			l := math.Log(max(r.ExecMs/float64(r.Calls), 1e-3) / 1000)
			if r.Cold {
				t.cold = append(t.cold, l)
			} else {
				t.warm = append(t.warm, l)
			}
			fanOut[r.Stage] = max(fanOut[r.Stage], r.Calls)
			if r.Cold && r.ColdStartMs > 0 {
				coldSum[st.Function] += r.ColdStartMs
				coldN[st.Function]++
			}
		}
	}
	shape = decide.QoSShape(w, nil, fanOut)
	for i := range shape.Stages {
		s := &shape.Stages[i]
		t := times[s.Name]
		if t == nil {
			return prewarm.WorkflowShape{}, nil, fmt.Errorf("stage %s: no run measured", s.Name)
		}
		logs := t.warm
		if len(logs) == 0 {
			logs = t.cold
		}
		s.Median, s.Sigma = prewarm.FitLogNormal(logs)
		if n := coldN[s.Function]; n > 0 {
			s.ColdStart = time.Duration(coldSum[s.Function] / float64(n) * float64(time.Millisecond))
		} else {
			s.ColdStart = trace.ColdStartFor(float64(c[s.Function].MemoryBytes) / scheduler.MiB)
		}
	}
	return shape, slices.Sorted(maps.Keys(coldN)), nil
}

// withIdle is the observation the policy sees when idle is priced: every
// invocation costs its execution and the plan's idle per invocation, and
// a configuration whose plan cannot meet the QoS looks as unsafe as one
// whose invocations fail: its invocations from the target percentile's
// rank up (at least the share the plan expects past the QoS) take twice
// the worst latency or the target, whichever is more.
func withIdle(o scheduler.Observation, idle *IdleCost, target scheduler.Target) scheduler.Observation {
	out := scheduler.Observation{LatencyMs: append([]float64(nil), o.LatencyMs...), CostUSD: make([]float64, len(o.CostUSD)),
		StageLatencyMs: o.StageLatencyMs, StageCostUSD: o.StageCostUSD}
	for i, c := range o.CostUSD {
		out.CostUSD[i] = c + idle.IdleUSD
	}
	if idle.Feasible {
		return out
	}
	n := len(out.LatencyMs)
	rank := int(math.Ceil(target.Percentile / 100 * float64(n))) // nearest rank, 1-based
	late := max(n-rank+1, int(math.Ceil(idle.ViolationRate*float64(n))))
	slowest := make([]int, n)
	for i := range slowest {
		slowest[i] = i
	}
	slices.SortStableFunc(slowest, func(a, b int) int { return cmp.Compare(out.LatencyMs[b], out.LatencyMs[a]) })
	miss := 2 * math.Max(slices.Max(out.LatencyMs), target.LatencyMs)
	for _, i := range slowest[:min(late, n)] {
		out.LatencyMs[i] = miss
	}
	return out
}

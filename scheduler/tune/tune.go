// Package tune runs a ResourcePolicy against a live workflow: it applies
// each configuration the policy suggests, measures it with real
// invocations, feeds the measurements back, and applies the best safe
// configuration at the end. It talks to Baton through the small Cluster
// interface, so the loop is tested without a cluster and `baton tune`
// drives a real one.
package tune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/stats"
	"baton.dev/baton/workflow"
)

// Cluster is what tuning needs from Baton.
type Cluster interface {
	// Apply makes c the workflow's configuration.
	Apply(ctx context.Context, c scheduler.Config, why Change) error
	// Invoke runs the workflow once and returns what it measured: its
	// end-to-end latency, its execution cost, how many stages waited for a
	// cold start and, when tuning prices idle, how its stages ran.
	Invoke(ctx context.Context) (Invocation, error)
	// Record keeps a measurement in history.
	Record(ctx context.Context, c scheduler.Config, latencyMs, costUSD float64) error
}

// Change says who applies a configuration, as what kind of change, and
// why.
type Change struct {
	Policy, Kind, Reason string
}

// Kinds of change Run, Watch and a validation apply (the names the
// orchestrator's configuration history uses).
const (
	KindExplore  = "explore"  // a configuration tried while exploring
	KindTune     = "tune"     // the best one, at the end of a run
	KindRetune   = "re-tune"  // the best one, at the end of a re-tuning run
	KindValidate = "validate" // one applied to validate a tuned one
)

// Options configure Run.
type Options struct {
	Policy string
	// Budget caps evaluations (0: the policy's default for the workflow).
	Budget int
	// PerEvaluation is how many warm invocations measure one
	// configuration (default 20).
	PerEvaluation int
	Seed          uint64
	// Why, when set, says why this run tunes: it heads the reason recorded
	// with the configuration applied at the end.
	Why string
	// Retune says that this run tunes again (Watch sets it): its result is
	// applied as KindRetune rather than KindTune.
	Retune bool
	// Progress, when set, hears of every evaluation.
	Progress func(done, budget int, c scheduler.Config, o Summary)
	// ArrivalsPerMinute, when > 0, is the workflow's invocation rate:
	// tuning then chooses resources and pre-warm settings together. Each
	// configuration is priced with the idle and start-up cost per
	// invocation of the QoS-aware pre-warm plan it implies (Shape from the
	// stages of its invocations, prewarm.PlanQoS and prewarm.IdleCost), the
	// policy's objective is execution plus idle cost, and a configuration
	// whose plan cannot meet the QoS is judged unsafe. The latencies stay
	// the measured, warm, ones (the simulator draws the plan's cold starts
	// into them instead): the plan's cold starts count through its
	// feasibility. Zero prices execution alone.
	ArrivalsPerMinute float64
	// Prices are the cost model's, for idle sandboxes (zero:
	// scheduler.DefaultPrices, the orchestrator's default).
	Prices scheduler.Prices
}

// Summary is what one run of invocations measured.
type Summary struct {
	Invocations int      `json:"invocations"`
	LatencyMs   stats.Ms `json:"latencyMs"` // at the QoS percentile; +Inf (JSON null) when failures reach it
	MeanCostUSD float64  `json:"meanCostUsd"`
	Errors      int      `json:"errors"`
	// Idle is the cost with the pre-warm plan's idle, when tuning prices
	// it (Options.ArrivalsPerMinute).
	Idle *IdleCost `json:"idle,omitempty"`
}

// Result is a tuning run's outcome.
type Result struct {
	Policy      string           `json:"policy"`
	Evaluations int              `json:"evaluations"`
	Best        scheduler.Config `json:"best"`
	Target      scheduler.Target `json:"target"`
	Duration    time.Duration    `json:"duration"`
	// Idle is the best configuration's cost with its pre-warm plan's idle,
	// when tuning prices it and measured the best configuration.
	Idle *IdleCost `json:"idle,omitempty"`
}

// Run tunes w on cl and applies the best configuration.
func Run(ctx context.Context, w *workflow.Workflow, cl Cluster, opts Options) (*Result, error) {
	target, err := scheduler.TargetOf(w)
	if err != nil {
		return nil, err
	}
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		return nil, err
	}
	if opts.PerEvaluation <= 0 {
		opts.PerEvaluation = 20
	}
	if opts.Policy == "" {
		opts.Policy = scheduler.PolicyAquatope
	}
	graph, err := scheduler.GraphOf(w)
	if err != nil {
		return nil, err
	}
	policy, err := scheduler.NewPolicy(opts.Policy, space, target, scheduler.PolicyOptions{Seed: opts.Seed, Budget: opts.Budget, Stages: len(w.Spec.Stages), Graph: graph})
	if err != nil {
		return nil, err
	}
	budget := opts.Budget
	if budget <= 0 {
		budget = scheduler.DefaultBudget(len(w.Spec.Stages))
	}
	pricer, err := newIdlePricer(w, opts.ArrivalsPerMinute, opts.Prices)
	if err != nil {
		return nil, fmt.Errorf("tune %s: %w", w.Metadata.Name, err)
	}
	idle := map[string]*IdleCost{} // by configuration key
	start := time.Now()
	res := &Result{Policy: policy.Name(), Target: target}
	for res.Evaluations < budget {
		c, err := policy.Suggest(ctx)
		if errors.Is(err, scheduler.ErrExplorationDone) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("evaluation %d: suggest: %w", res.Evaluations+1, err)
		}
		if err := cl.Apply(ctx, c, Change{Policy: policy.Name(), Kind: KindExplore, Reason: fmt.Sprintf("exploring: evaluation %d of at most %d", res.Evaluations+1, budget)}); err != nil {
			return nil, fmt.Errorf("evaluation %d: apply: %w", res.Evaluations+1, err)
		}
		obs, sum, runs, err := measure(ctx, cl, opts.PerEvaluation, target.Percentile)
		if err != nil {
			return nil, fmt.Errorf("evaluation %d: %w", res.Evaluations+1, err)
		}
		// The sample recorded is the optimizer's (finite: a failure as
		// twice the worst success), which history can store: execution
		// cost only, as every sample of history.
		recorded := stats.Percentile(obs.LatencyMs, target.Percentile)
		if pricer != nil {
			if sum.Idle, err = pricer.price(c, sum.MeanCostUSD, runs); err != nil {
				return nil, fmt.Errorf("evaluation %d: idle cost: %w", res.Evaluations+1, err)
			}
			idle[space.Key(c)] = sum.Idle
			obs = withIdle(obs, sum.Idle, target)
		}
		if err := policy.Observe(ctx, c, obs); err != nil {
			return nil, fmt.Errorf("evaluation %d: observe: %w", res.Evaluations+1, err)
		}
		if err := cl.Record(ctx, c, recorded, sum.MeanCostUSD); err != nil {
			return nil, fmt.Errorf("evaluation %d: record: %w", res.Evaluations+1, err)
		}
		res.Evaluations++
		if opts.Progress != nil {
			opts.Progress(res.Evaluations, budget, c, sum)
		}
	}
	best, err := policy.Best(ctx)
	if err != nil {
		return nil, fmt.Errorf("best configuration: %w", err)
	}
	reason := fmt.Sprintf("best safe configuration after %d evaluations of %d invocations for p%g <= %.0f ms", res.Evaluations, opts.PerEvaluation, target.Percentile, target.LatencyMs)
	if opts.Why != "" {
		reason = opts.Why + ": " + reason
	}
	kind := KindTune
	if opts.Retune {
		kind = KindRetune
	}
	if err := cl.Apply(ctx, best, Change{Policy: policy.Name(), Kind: kind, Reason: reason}); err != nil {
		return nil, fmt.Errorf("apply the best configuration: %w", err)
	}
	res.Best, res.Idle, res.Duration = best, idle[space.Key(best)], time.Since(start)
	return res, nil
}

// Measure warms the workflow up (until an invocation has no cold start,
// at most five tries), then runs n invocations and summarises them at
// percentile p. Failed invocations count as errors and as latency
// +Inf-like misses (twice the worst seen) so a configuration that breaks
// the workflow is not taken for a fast one.
func Measure(ctx context.Context, cl Cluster, n int, p float64) (scheduler.Observation, Summary, error) {
	obs, sum, _, err := measure(ctx, cl, n, p)
	return obs, sum, err
}

// measure is Measure that also returns the stages of every invocation
// that succeeded, the warm-up's too (their cold starts are measured).
func measure(ctx context.Context, cl Cluster, n int, p float64) (scheduler.Observation, Summary, [][]StageRun, error) {
	var runs [][]StageRun
	for range 5 {
		inv, err := cl.Invoke(ctx)
		if ctx.Err() != nil {
			return scheduler.Observation{}, Summary{}, nil, ctx.Err()
		}
		if err == nil {
			runs = append(runs, inv.Stages)
			if inv.ColdStarts == 0 {
				break
			}
		}
	}
	var obs scheduler.Observation
	sum := Summary{Invocations: n}
	var failures int
	for range n {
		inv, err := cl.Invoke(ctx)
		if ctx.Err() != nil {
			return obs, sum, nil, ctx.Err()
		}
		if err != nil {
			failures++
			continue
		}
		obs.LatencyMs = append(obs.LatencyMs, inv.LatencyMs)
		obs.CostUSD = append(obs.CostUSD, inv.CostUSD)
		runs = append(runs, inv.Stages)
		addStages(&obs, inv.Stages)
	}
	if len(obs.LatencyMs) == 0 {
		return obs, sum, nil, fmt.Errorf("all %d invocations failed", n)
	}
	// The summary judges as Judge does (package stats: nearest rank, a
	// failure slower than any success), so a configuration measured as
	// meeting the QoS is not judged as missing it. The optimizer's
	// observation needs finite values: there a failure counts as twice
	// the worst success.
	sum.Errors = failures
	sum.LatencyMs = stats.Ms(stats.Percentile(stats.WithFailures(obs.LatencyMs, failures), p))
	worst := 0.0
	for _, l := range obs.LatencyMs {
		worst = math.Max(worst, l)
	}
	for range failures {
		obs.LatencyMs = append(obs.LatencyMs, 2*worst)
		obs.CostUSD = append(obs.CostUSD, obs.CostUSD[0])
	}
	for _, c := range obs.CostUSD {
		sum.MeanCostUSD += c
	}
	sum.MeanCostUSD /= float64(len(obs.CostUSD))
	return obs, sum, runs, nil
}

// addStages adds to o the stages of one invocation that measured their
// latency and cost.
func addStages(o *scheduler.Observation, stages []StageRun) {
	for _, st := range stages {
		if !(st.LatencyMs > 0) || !(st.CostUSD > 0) {
			continue
		}
		if o.StageLatencyMs == nil {
			o.StageLatencyMs, o.StageCostUSD = map[string][]float64{}, map[string][]float64{}
		}
		o.StageLatencyMs[st.Stage] = append(o.StageLatencyMs[st.Stage], st.LatencyMs)
		o.StageCostUSD[st.Stage] = append(o.StageCostUSD[st.Stage], st.CostUSD)
	}
}

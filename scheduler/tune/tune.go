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
	// Invoke runs the workflow once and returns its end-to-end latency,
	// its execution cost and how many stages waited for a cold start.
	Invoke(ctx context.Context) (latencyMs, costUSD float64, coldStarts int, err error)
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
}

// Summary is what one run of invocations measured.
type Summary struct {
	Invocations int      `json:"invocations"`
	LatencyMs   stats.Ms `json:"latencyMs"` // at the QoS percentile; +Inf (JSON null) when failures reach it
	MeanCostUSD float64  `json:"meanCostUsd"`
	Errors      int      `json:"errors"`
}

// Result is a tuning run's outcome.
type Result struct {
	Policy      string           `json:"policy"`
	Evaluations int              `json:"evaluations"`
	Best        scheduler.Config `json:"best"`
	Target      scheduler.Target `json:"target"`
	Duration    time.Duration    `json:"duration"`
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
	policy, err := scheduler.NewPolicy(opts.Policy, space, target, scheduler.PolicyOptions{Seed: opts.Seed, Budget: opts.Budget, Stages: len(w.Spec.Stages)})
	if err != nil {
		return nil, err
	}
	budget := opts.Budget
	if budget <= 0 {
		budget = scheduler.DefaultBudget(len(w.Spec.Stages))
	}
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
		obs, sum, err := Measure(ctx, cl, opts.PerEvaluation, target.Percentile)
		if err != nil {
			return nil, fmt.Errorf("evaluation %d: %w", res.Evaluations+1, err)
		}
		if err := policy.Observe(ctx, c, obs); err != nil {
			return nil, fmt.Errorf("evaluation %d: observe: %w", res.Evaluations+1, err)
		}
		// The sample recorded is the optimizer's (finite: a failure as
		// twice the worst success), which history can store.
		if err := cl.Record(ctx, c, stats.Percentile(obs.LatencyMs, target.Percentile), sum.MeanCostUSD); err != nil {
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
	res.Best, res.Duration = best, time.Since(start)
	return res, nil
}

// Measure warms the workflow up (until an invocation has no cold start,
// at most five tries), then runs n invocations and summarises them at
// percentile p. Failed invocations count as errors and as latency
// +Inf-like misses (twice the worst seen) so a configuration that breaks
// the workflow is not taken for a fast one.
func Measure(ctx context.Context, cl Cluster, n int, p float64) (scheduler.Observation, Summary, error) {
	for range 5 {
		_, _, cold, err := cl.Invoke(ctx)
		if err == nil && cold == 0 {
			break
		}
		if ctx.Err() != nil {
			return scheduler.Observation{}, Summary{}, ctx.Err()
		}
	}
	var obs scheduler.Observation
	sum := Summary{Invocations: n}
	var failures int
	for range n {
		lat, cost, _, err := cl.Invoke(ctx)
		if ctx.Err() != nil {
			return obs, sum, ctx.Err()
		}
		if err != nil {
			failures++
			continue
		}
		obs.LatencyMs = append(obs.LatencyMs, lat)
		obs.CostUSD = append(obs.CostUSD, cost)
	}
	if len(obs.LatencyMs) == 0 {
		return obs, sum, fmt.Errorf("all %d invocations failed", n)
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
	return obs, sum, nil
}

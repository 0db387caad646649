package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"baton.dev/baton/scheduler/stats"
	"baton.dev/baton/workflow"
)

// ErrExplorationDone is what Suggest returns when the policy wants no more
// measurements: its budget is spent or it is confident in its choice.
var ErrExplorationDone = errors.New("exploration done")

// Observation is what one evaluation of a configuration measured: the
// end-to-end latency and cost of each invocation run with it and, when the
// measurer knows them, the same broken down by stage.
type Observation struct {
	LatencyMs []float64
	CostUSD   []float64
	// StageLatencyMs and StageCostUSD, when set, hold by stage name each
	// stage's latency (from its needs done to its last call's end, a
	// foreach's calls in parallel) and cost in the invocations that
	// reported their stages (perhaps fewer than len(LatencyMs)). Policies
	// that model the workflow stage by stage need them; the others ignore them.
	StageLatencyMs map[string][]float64
	StageCostUSD   map[string][]float64
}

// Target is the end-to-end QoS: Percentile percent of invocations within LatencyMs.
type Target struct {
	LatencyMs  float64 `json:"latencyMs"`
	Percentile float64 `json:"percentile"`
}

// TargetOf returns w's QoS as a Target; an error when w has none.
func TargetOf(w *workflow.Workflow) (Target, error) {
	if w.Spec.QoS.IsZero() {
		return Target{}, fmt.Errorf("workflow %q has no qos target to tune for", w.Metadata.Name)
	}
	return Target{LatencyMs: float64(w.Spec.QoS.Latency.Microseconds()) / 1000, Percentile: w.Spec.QoS.Percentile}, nil
}

// ResourcePolicy chooses a workflow's configuration by measuring some.
// A policy is not safe for concurrent use.
type ResourcePolicy interface {
	// Name is the policy's registry name, e.g. "aquatope".
	Name() string
	// Suggest returns the next configuration to evaluate, or
	// ErrExplorationDone when the policy wants no more.
	Suggest(ctx context.Context) (Config, error)
	// Observe records an evaluation of c.
	Observe(ctx context.Context, c Config, o Observation) error
	// Best returns the configuration the policy would run in production.
	Best(ctx context.Context) (Config, error)
}

// Truth answers exact questions about a workflow's behaviour; only a
// simulator knows it, so only the oracle uses it.
type Truth interface {
	// ExpectedCostUSD is the mean cost of one invocation under c.
	ExpectedCostUSD(c Config) float64
	// LatencyPercentileMs is the p-th percentile of end-to-end latency under c.
	LatencyPercentileMs(c Config, p float64) float64
	// MeetsLatency reports whether LatencyPercentileMs(c, p) <= limitMs,
	// perhaps faster.
	MeetsLatency(c Config, p, limitMs float64) bool
}

// PolicyOptions configure NewPolicy.
type PolicyOptions struct {
	// Seed makes the policy's random choices reproducible.
	Seed uint64
	// Budget caps evaluations; 0 means DefaultBudget of the stage count.
	Budget int
	// Stages is the workflow's stage count, for the default budget.
	Stages int
	// Truth is required by the oracles and ignored by the others.
	Truth Truth
	// WindowSize and WindowMissRate are how production judges the QoS: in
	// windows of WindowSize invocations (default 100), at most
	// WindowMissRate of which (default 0.01) may miss the target's
	// percentile. Aquatope and the window-safe oracle choose for them.
	WindowSize     int
	WindowMissRate float64
	// Graph is the workflow's stages (GraphOf), required by the policies
	// that model stages (UsesStages) and ignored by the others.
	Graph []StageNode
}

// windowRule returns the options' window size and miss rate with defaults.
func (o PolicyOptions) windowRule() (int, float64) {
	size, miss := o.WindowSize, o.WindowMissRate
	if size <= 0 {
		size = 100
	}
	if miss <= 0 {
		miss = 0.01
	}
	return size, miss
}

// DefaultBudget is the evaluation budget: 30 for workflows of up to four
// stages, 60 beyond, enough for the constrained search to converge on the
// sample workflows' profiles without tuning longer than it saves.
func DefaultBudget(stages int) int {
	if stages <= 4 {
		return 30
	}
	return 60
}

// Policy names.
const (
	PolicyAquatope = "aquatope"
	// PolicyAquatopeStages is aquatope modelling each stage on its own
	// resources and composing them through the workflow's DAG.
	PolicyAquatopeStages = "aquatope-stages"
	PolicyStaticMax      = "static-max"
	PolicyStaticDefault  = "static-default"
	PolicyRandom         = "random"
	PolicyCherryPick     = "cherrypick"
	PolicyOracle         = "oracle"
	// PolicyWindowSafeOracle is the oracle judged as validation judges:
	// the cheapest grid configuration whose windows meet the QoS as often
	// as required.
	PolicyWindowSafeOracle = "oracle-window-safe"
)

// PolicyNames lists every policy, in report order.
func PolicyNames() []string {
	return []string{PolicyAquatope, PolicyAquatopeStages, PolicyCherryPick, PolicyRandom, PolicyStaticMax, PolicyStaticDefault, PolicyOracle, PolicyWindowSafeOracle}
}

// LivePolicyNames lists the policies that tune a live cluster: every
// one but the oracles, which need the simulator's truth.
func LivePolicyNames() []string {
	var out []string
	for _, n := range PolicyNames() {
		if !needsTruth(n) {
			out = append(out, n)
		}
	}
	return out
}

// needsTruth reports whether the named policy is an oracle, built only
// with PolicyOptions.Truth.
func needsTruth(name string) bool { return name == PolicyOracle || name == PolicyWindowSafeOracle }

// UsesStages reports whether the named policy needs observations broken
// down by stage (Observation.StageLatencyMs) and the workflow's Graph.
func UsesStages(name string) bool { return name == PolicyAquatopeStages }

// NewPolicy builds the named policy for space and target.
func NewPolicy(name string, space *Space, target Target, opts PolicyOptions) (ResourcePolicy, error) {
	if space == nil {
		return nil, errors.New("new policy: nil space")
	}
	if !(target.LatencyMs > 0) || !(target.Percentile > 0 && target.Percentile < 100) || math.IsInf(target.LatencyMs, 0) {
		return nil, fmt.Errorf("new policy: invalid target %+v", target)
	}
	budget := opts.Budget
	if budget <= 0 {
		budget = DefaultBudget(opts.Stages)
	}
	windowSize, missRate := opts.windowRule()
	switch name {
	case PolicyAquatope:
		return newAquatope(space, target, budget, opts.Seed, AquatopeOptions{WindowSize: windowSize, WindowMissRate: missRate}), nil
	case PolicyAquatopeStages:
		p, err := newAquatopeStages(space, target, budget, opts.Seed, opts.Graph, StagesOptions{WindowSize: windowSize, WindowMissRate: missRate})
		if err != nil {
			return nil, err
		}
		return p, nil
	case PolicyCherryPick:
		return newCherryPick(space, target, budget, opts.Seed), nil
	case PolicyRandom:
		return newRandomSearch(space, target, budget, opts.Seed), nil
	case PolicyStaticMax:
		return &staticPolicy{name: name, config: space.Max()}, nil
	case PolicyStaticDefault:
		return &staticPolicy{name: name, config: defaultConfig(space)}, nil
	case PolicyOracle, PolicyWindowSafeOracle:
		if opts.Truth == nil {
			return nil, fmt.Errorf("new policy: %s needs the simulator's truth (simulation only)", name)
		}
		if name == PolicyWindowSafeOracle {
			return newWindowSafeOracle(space, target, opts.Truth, windowSize, missRate, OracleOptions{})
		}
		return newOracle(space, target, opts.Truth, OracleOptions{})
	}
	return nil, fmt.Errorf("unknown policy %q: want one of %s", name, strings.Join(PolicyNames(), ", "))
}

// summary is what policies keep of one evaluation.
type summary struct {
	x         []float64
	config    Config
	costUSD   float64 // mean per invocation
	latencyMs float64 // the target's percentile over the evaluation
}

// summarise reduces an observation for target.
func summarise(space *Space, c Config, o Observation, target Target) (summary, error) {
	if len(o.LatencyMs) == 0 || len(o.CostUSD) != len(o.LatencyMs) {
		return summary{}, fmt.Errorf("observation: %d latencies and %d costs", len(o.LatencyMs), len(o.CostUSD))
	}
	if err := space.Contains(c); err != nil {
		return summary{}, fmt.Errorf("observation: %w", err)
	}
	s := summary{x: space.Point(c), config: c, costUSD: stats.Mean(o.CostUSD), latencyMs: stats.Percentile(o.LatencyMs, target.Percentile)}
	if !(s.costUSD > 0) || !(s.latencyMs > 0) || math.IsInf(s.costUSD, 0) || math.IsInf(s.latencyMs, 0) {
		return summary{}, fmt.Errorf("observation: cost %g and latency %g must be positive and finite", s.costUSD, s.latencyMs)
	}
	return s, nil
}

// cheapestMeetingTarget returns the cheapest evaluated configuration whose
// measured percentile met the target, or ok false.
func cheapestMeetingTarget(obs []summary, target Target) (Config, bool) {
	best := -1
	for i, o := range obs {
		if o.latencyMs <= target.LatencyMs && (best < 0 || o.costUSD < obs[best].costUSD) {
			best = i
		}
	}
	if best < 0 {
		return nil, false
	}
	return obs[best].config, true
}

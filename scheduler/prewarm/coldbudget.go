package prewarm

import "math"

// qosColdMargin is the share of a workflow's violation budget that its
// functions' allowed cold fractions may spend by the plan's model
// (allowColdStarts). The rest is the margin for what the model leaves
// out, none of it measured on any trace: the planner's estimate of its own
// cold fraction comes from a model of Poisson arrivals (trace arrivals are
// burstier), queueing behind busy sandboxes is not modelled at all, and the
// model's estimate of the violations is drawn from qosSamples invocations
// (one standard error of a 5% rate is 7% of it). Half the budget covers
// the sampling error many times over and leaves as much again for the
// rest.
const qosColdMargin = 0.5

// The search of allowColdStarts: the scale of the cold fractions goes up
// from qosColdMinScale by a factor of qosColdStep a step.
const (
	qosColdMinScale = 1e-4
	qosColdStep     = 1.25
)

// qosColdSeed seeds the cold starts allowColdStarts draws (apart from the
// element times: the same invocations, cold in different places).
const qosColdSeed = 0xd1b54a32d192ed03

// allowColdStarts sets each function's AllowedColdArrivals and
// AllowedCold in plan, from qosColdMargin of the budget. Cold arrivals (the
// plan's ColdArrivalViolationRate over the warm one, per invocation) may
// take half of it at most, and their share is the most they may; what they
// take at that share is gone from the budget of the functions' shares.
//
// AllowedCold is the share of a function's calls that may find no warm
// sandbox with the workflow still within its QoS, besides the cold
// arrivals. Each function's share is a common scale over its cost
// (cheaper cold starts may be more frequent: a function whose cold start
// costs nothing gets the most, its share reaching 1 first), and the scale
// is the largest that, from the least up, keeps the violations that cold
// starts add within qosColdMargin of the budget under both models of how
// the functions go cold together:
//
//   - independently: each stage's function cold at random for it, which
//     has downstream stages go cold while the first stage is warm (no
//     chain warming then: only a cold first stage starts it);
//   - together: one draw per invocation, each function cold when it falls
//     under its share, so that the stages with the smaller shares are cold
//     only when those with the larger are (the functions of a workflow see
//     the same arrivals: whatever leaves one without a warm sandbox for an
//     invocation tends to leave the others without one too).
//
// A stage is cold when any of the elements it starts at once is (each at
// its function's share). When a first stage is cold, the chain-warmed
// stages are started ahead (as coldArrival has it) instead of waiting a
// cold start. The added violations need not grow with the shares (all
// functions cold together is one chain-warmed cold arrival, some cold with
// the first stage warm can be worse): the search stops at the first scale
// past the margin. Without a budget (or unattainable) every share stays
// zero: the functions are planned by their costs alone (qosSettings).
func (w WorkflowShape) allowColdStarts(plan *QoSPlan, order []int, draws [][][]float64) {
	if !plan.Attainable || plan.Budget <= 0 {
		return
	}
	stageFn := make([]int, len(w.Stages)) // index in plan.Functions
	for i, s := range w.Stages {
		for k := range plan.Functions {
			if plan.Functions[k].Function == s.Function {
				stageFn[i] = k
			}
		}
	}
	weights := make([]float64, len(plan.Functions))
	top := 0.0
	for k, f := range plan.Functions {
		weights[k] = 1 / max(f.Cost, qosNoCost)
		top = max(top, weights[k])
	}
	shares := func(scale float64) []float64 {
		out := make([]float64, len(weights))
		for k, wt := range weights {
			out[k] = min(1, scale*wt/top)
		}
		return out
	}
	// The scale at which every share is 1.
	last := 1.0
	for _, wt := range weights {
		last = max(last, top/wt)
	}
	qos, target := w.Latency.Seconds(), plan.Budget*qosColdMargin
	arrivals, arrivalCost := 1.0, plan.ColdArrivalViolationRate-plan.WarmViolationRate
	if arrivalCost > 0 {
		arrivals = min(1, target/2/arrivalCost)
		target -= arrivals * arrivalCost
	}
	best := 0.0
	for scale := qosColdMinScale; ; scale = min(scale*qosColdStep, last) {
		p := shares(scale)
		worst := 0.0
		for _, together := range []bool{false, true} {
			worst = max(worst, violationRate(w.coldLatencies(order, draws, plan.ChainWarm, stageFn, p, together), qos))
		}
		if worst-plan.WarmViolationRate > target {
			break
		}
		best = scale
		if scale >= last {
			break
		}
	}
	for k, p := range shares(best) {
		plan.Functions[k].AllowedCold = p
		if p > 0 {
			plan.Functions[k].AllowedColdArrivals = arrivals
		}
	}
}

// coldLatencies are the drawn invocations' latencies with stage i's
// function (plan.Functions[stageFn[i]]) cold for a call with probability
// share[stageFn[i]]: independently for each stage and invocation, or, with
// together, from one draw per invocation (see allowColdStarts). A cold
// first stage starts the chain-warmed stages (chain) ahead.
func (w WorkflowShape) coldLatencies(order []int, draws [][][]float64, chain []bool, stageFn []int, share []float64, together bool) []float64 {
	offsets := w.expectedOffsets(order)
	stageCold := make([]float64, len(w.Stages)) // P(a stage is cold)
	for i := range w.Stages {
		stageCold[i] = 1 - math.Pow(1-share[stageFn[i]], float64(w.Stages[i].parallel()))
	}
	cold := make([]bool, len(w.Stages))
	sc := scenario{delay: make([]float64, len(w.Stages)), readyAt: make([]float64, len(w.Stages))}
	out := make([]float64, len(draws))
	for k := range draws {
		u := uniform(qosColdSeed, uint64(k), 0)
		rootDelay := 0.0
		for i, s := range w.Stages {
			if !together {
				u = uniform(qosColdSeed, uint64(k), uint64(i)+1)
			}
			cold[i] = u < stageCold[i]
			if cold[i] && len(s.Needs) == 0 {
				rootDelay = max(rootDelay, s.ColdStart.Seconds())
			}
		}
		for i, s := range w.Stages {
			sc.delay[i], sc.readyAt[i] = 0, 0
			switch {
			case cold[i] && rootDelay > 0 && chain[i]:
				at := ChainWarmAt(seconds(rootDelay), seconds(offsets[i]), s.ColdStart)
				sc.readyAt[i] = (at + s.ColdStart).Seconds()
			case cold[i]:
				sc.delay[i] = s.ColdStart.Seconds()
			}
		}
		out[k] = w.latency(order, draws[k], sc)
	}
	return out
}

// uniform is a uniform draw in (0, 1) from a hash of seed, a and b.
func uniform(seed, a, b uint64) float64 {
	z := splitmix64(splitmix64(splitmix64(seed)^a) ^ b)
	return (float64(z>>11) + 0.5) / (1 << 53)
}

// splitmix64 is the SplitMix64 finaliser of x.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

package prewarm

import (
	"math"
	"slices"
	"time"

	"baton.dev/baton/scheduler/stats"
)

// QoSPlan is the QoS-aware pre-warm decision for one workflow: how much of
// its QoS warm sandboxes already use, how much cold-start delay is left to
// absorb, and from that each function's pre-warm aggressiveness and which
// stages are chain-warmed.
type QoSPlan struct {
	// Workflow names the workflow.
	Workflow string
	// WarmLatency is the end-to-end latency at the QoS percentile with
	// every sandbox warm (no cold start, no queueing), and
	// WarmViolationRate the share of invocations slower than the QoS
	// then: the bound no pre-warm policy can beat.
	WarmLatency       time.Duration
	WarmViolationRate float64
	// Slack is the QoS latency less WarmLatency; negative when the QoS is
	// unattainable.
	Slack time.Duration
	// Attainable says whether WarmViolationRate is within 1 − percentile.
	Attainable bool
	// Budget is the share of invocations cold starts may push past the
	// QoS: (1 − percentile) − WarmViolationRate, zero when unattainable.
	Budget float64
	// ColdArrivalViolationRate is the share of invocations past the QoS
	// among those that arrive to a workflow with no sandbox warm, under
	// the plan's chain warming.
	ColdArrivalViolationRate float64
	// Functions are the functions' settings, in order of first use.
	Functions []FunctionQoS
	// ChainWarm says, per stage (in WorkflowShape order), whether chain
	// warming starts its sandboxes ahead: only stages with needs whose
	// cold start would cost violations.
	ChainWarm []bool
}

// FunctionQoS is one function's pre-warm aggressiveness under its
// workflow's QoS: the settings of aquatope's planner for it.
type FunctionQoS struct {
	// Function names the function.
	Function string
	// ColdViolationRate is the share of invocations past the QoS when
	// this function's sandbox is cold for them (its stages start a cold
	// start late, the rest warm), and Cost the violations one cold start
	// adds over the budget: (ColdViolationRate − WarmViolationRate) /
	// Budget, +Inf with no budget and some added.
	ColdViolationRate float64
	Cost              float64
	// ColdStartCost, KeepAlive, Quantile and Concurrency are aquatope's
	// settings for the function (see Aquatope): the idle sandbox-time a
	// cold start is worth, the keep-alive above the floor, the arrival
	// quantile the floor covers and the quantile of the calls in flight at
	// an instant it covers.
	ColdStartCost time.Duration
	KeepAlive     time.Duration
	Quantile      float64
	Concurrency   float64
	// AllowedCold is the share of the function's calls that may find no
	// warm sandbox with the workflow within its QoS (see
	// WorkflowShape.allowColdStarts), in (0, 1]; zero when the QoS leaves
	// no budget for cold starts (or is unattainable). With it, aquatope's
	// planner keeps the fewest idle sandboxes that by its own history meet
	// it (see coldFractionChoice), instead of pricing each cold start at
	// ColdStartCost.
	AllowedCold float64
	// AllowedColdArrivals is the share of the workflow's invocations that
	// may arrive cold (the plan's ColdArrivalViolationRate) within the
	// budget: a function with no call for a whole planning interval had
	// no invocation reach it, nor, then, the workflow's first stages, and
	// its next call comes with theirs to a cold workflow (chain-warmed).
	// The planner's idle window may miss that share of the invocations.
	// Zero with AllowedCold.
	AllowedColdArrivals float64
	// ChainHold is how long, at the most, a sandbox chain warming readies
	// for one of the function's chain-warmed stages waits idle for it
	// (zero when none is chain-warmed): with an allowed cold share, the
	// planner keeps idle sandboxes at least that long, or chain warming
	// would start sandboxes the autoscaler deletes before their stage.
	ChainHold time.Duration
	// Batch is how many calls of the function an invocation sends at once
	// (the most elements of one of its stages running at once), Calls how
	// many it sends in all (its stages' elements).
	Batch, Calls int
}

// The scale of the QoS-aware settings. A cold start that would use up a
// workflow's whole violation budget by itself (Cost 1) is worth
// qosColdStartPrice of idle sandbox-time; ColdStartCost is that times
// Cost, between qosMinColdStartCost (a cold start that fits in the slack:
// the function is planned for its own sake, frugally) and
// qosMaxColdStartCost (no budget left: a cold start is as dear as
// aquatope's most lavish frontier point makes it). At Cost 1⅔ the price is
// aquatope's own (AquatopeColdStartCost).
const (
	qosColdStartPrice   = 6 * time.Minute
	qosMinColdStartCost = time.Minute
	qosMaxColdStartCost = 2 * time.Hour
)

// qosNoCost is the Cost below which a function's cold start counts as
// absorbed by the slack: it neither keeps sandboxes for the QoS nor is
// chain-warmed.
const qosNoCost = 0.05

// PlanQoS is the QoS-aware pre-warm decision for workflow w, a pure
// function of its shape (deterministic: the invocations it draws are
// seeded). It draws invocations of the stage model with every sandbox
// warm, which gives the warm latency at the percentile and the warm
// violation rate; the budget is the share of invocations cold starts may
// push past the QoS on top of that. For each function it draws the same
// invocations with its stages started a cold start late: the violations
// that adds, over the budget, is the function's cost (zero when its cold
// start fits in the slack). A later stage whose function costs anything
// is chain-warmed. Then it draws them arriving cold (every pool empty):
// when that costs violations with the chain warming so far, every later
// stage is chain-warmed, and the first stages' functions carry the cost
// of a cold arrival that is left. The settings follow the cost
// (qosSettings): a function whose cold starts break the QoS keeps
// sandboxes longer and covers a higher arrival quantile; one whose cold
// starts the QoS absorbs is pre-warmed frugally. Last, the budget is
// shared out as allowed cold shares (allowColdStarts): of the
// invocations that may arrive cold, and of each function's calls that may
// find no warm sandbox otherwise; with them, the planner meets the shares
// at the least idle by its own history, and the settings rule only until
// its idle window is chosen (or when there is no budget to share).
//
// An unattainable QoS (the warm violation rate past 1 − percentile) is
// reported as such, with no budget (a cold start that adds violations
// costs +Inf, one that adds none, every invocation late already, nothing);
// its functions get aquatope's own settings and every later stage is
// chain-warmed, as under aquatope: the stage times break the QoS, not the
// cold starts, and idle spent on them would buy no QoS (on the heavy trace
// with the uniform stage model, social-compose's most lavish settings cost
// 4.1x keepalive-10m's idle for 21.13% violations against a bound of
// 21.06% and keepalive-10m's 23.25%). The model knows no queueing: a burst
// of calls waiting for busy sandboxes is the policy's concurrency floor's
// concern.
func PlanQoS(w WorkflowShape) (QoSPlan, error) {
	if err := w.validate(); err != nil {
		return QoSPlan{}, err
	}
	order, err := w.topoOrder()
	if err != nil {
		return QoSPlan{}, err
	}
	allowed := 1 - w.Percentile/100
	qos := w.Latency.Seconds()
	var functions []string
	for _, s := range w.Stages {
		if !slices.Contains(functions, s.Function) {
			functions = append(functions, s.Function)
		}
	}
	// One draw per invocation and element, shared by every scenario so
	// that their differences are the cold starts' alone.
	draws := w.drawElements()
	sc := scenario{delay: make([]float64, len(w.Stages)), readyAt: make([]float64, len(w.Stages))}
	plan := QoSPlan{Workflow: w.Name, ChainWarm: make([]bool, len(w.Stages))}
	warm := w.latencies(order, draws, sc)
	plan.WarmViolationRate = violationRate(warm, qos)
	slices.Sort(warm)
	plan.WarmLatency = seconds(stats.Sorted(warm, w.Percentile))
	plan.Slack = w.Latency - plan.WarmLatency
	plan.Attainable = plan.WarmViolationRate <= allowed
	plan.Budget = max(0, allowed-plan.WarmViolationRate)
	cost := func(latencies []float64) float64 {
		return budgetCost(violationRate(latencies, qos)-plan.WarmViolationRate, plan.Budget)
	}
	// A function cold alone: its stages start a cold start late (no chain
	// warming: the invocation arrived warm).
	for _, fn := range functions {
		for i, s := range w.Stages {
			sc.delay[i] = 0
			if s.Function == fn {
				sc.delay[i] = s.ColdStart.Seconds()
			}
		}
		f := FunctionQoS{Function: fn}
		f.ColdViolationRate = violationRate(w.latencies(order, draws, sc), qos)
		f.Cost = budgetCost(f.ColdViolationRate-plan.WarmViolationRate, plan.Budget)
		plan.Functions = append(plan.Functions, f)
	}
	for i, s := range w.Stages {
		plan.ChainWarm[i] = len(s.Needs) > 0 && plan.Function(s.Function).Cost >= qosNoCost
	}
	// A cold arrival, every pool empty: the first stages wait their cold
	// starts, later ones theirs unless chain-warmed. When that costs
	// violations, every later stage is chain-warmed (it costs idle only on
	// cold arrivals); the first stages' functions carry what is left.
	arrival := w.coldArrival(order, draws, plan.ChainWarm)
	if cost(arrival) >= qosNoCost {
		for i, s := range w.Stages {
			plan.ChainWarm[i] = len(s.Needs) > 0
		}
		arrival = w.coldArrival(order, draws, plan.ChainWarm)
	}
	plan.ColdArrivalViolationRate = violationRate(arrival, qos)
	for _, s := range w.Stages {
		if f := plan.Function(s.Function); len(s.Needs) == 0 {
			f.Cost = max(f.Cost, cost(arrival))
		}
	}
	for _, s := range w.Stages {
		f := plan.Function(s.Function)
		f.Batch = max(f.Batch, s.parallel())
		f.Calls += s.Width
	}
	w.allowColdStarts(&plan, order, draws)
	holds := w.chainHolds(order, draws)
	for i, s := range w.Stages {
		if f := plan.Function(s.Function); plan.ChainWarm[i] && f.AllowedCold > 0 {
			f.ChainHold = max(f.ChainHold, seconds(holds[i]).Round(time.Millisecond))
		}
	}
	for i := range plan.Functions {
		f := &plan.Functions[i]
		f.ColdStartCost, f.KeepAlive, f.Quantile, f.Concurrency = qosSettings(f.Cost)
		if !plan.Attainable {
			// The stage times break the QoS, not the cold starts: no
			// reason to spend more or less than aquatope does.
			f.ColdStartCost, f.KeepAlive, f.Quantile, f.Concurrency = AquatopeColdStartCost, AquatopeKeepAlive, AquatopeQuantile, defaultConcurrency
		}
	}
	if !plan.Attainable {
		for i, s := range w.Stages {
			plan.ChainWarm[i] = len(s.Needs) > 0
		}
	}
	return plan, nil
}

// Function returns the settings of the named function, or nil.
func (p *QoSPlan) Function(name string) *FunctionQoS {
	for i := range p.Functions {
		if p.Functions[i].Function == name {
			return &p.Functions[i]
		}
	}
	return nil
}

// budgetCost is added violations over the budget: zero for none added (or
// fewer: sampling noise), +Inf for some added with no budget.
func budgetCost(added, budget float64) float64 {
	switch {
	case added <= 0:
		return 0
	case budget <= 0:
		return math.Inf(1)
	}
	return added / budget
}

// qosSettings are aquatope's settings for a function whose cold start
// costs cost (see FunctionQoS.Cost): the cold-start cost scaled by it
// within its bounds, and from that a keep-alive of half of it (aquatope's
// own ratio, between 30 s and an hour: until its idle-time window has seen
// enough calls, the keep-alive alone keeps a function warm between them),
// the arrival quantile moving from aquatope's median to 0.95 as the
// cold-start cost moves from aquatope's own to its maximum (the settings
// of aquatope's frontier, from frugal to lavish), and the quantile of the
// calls in flight moving from their median, where a cold start costs the
// QoS nothing (a call past the floor may wait for a sandbox to start), to
// aquatope's 0.99 at aquatope's own cold-start cost and above (both in log
// cold-start cost).
func qosSettings(cost float64) (coldStartCost, keepAlive time.Duration, quantile, concurrency float64) {
	c := float64(qosMaxColdStartCost)
	if cost < qosNoCost {
		c = float64(qosMinColdStartCost)
	} else if v := cost * float64(qosColdStartPrice); v < c {
		c = max(v, float64(qosMinColdStartCost))
	}
	coldStartCost = time.Duration(c).Round(time.Second)
	keepAlive = min(max(coldStartCost/2, 30*time.Second), time.Hour)
	quantile = AquatopeQuantile + (0.95-AquatopeQuantile)*logShare(coldStartCost, AquatopeColdStartCost, qosMaxColdStartCost)
	concurrency = 0.5 + (defaultConcurrency-0.5)*logShare(coldStartCost, qosMinColdStartCost, AquatopeColdStartCost)
	return coldStartCost, keepAlive, math.Round(quantile*100) / 100, math.Round(concurrency*100) / 100
}

// logShare is where d stands between lo and hi in log scale, in [0, 1].
func logShare(d, lo, hi time.Duration) float64 {
	if d <= lo {
		return 0
	}
	return min(1, math.Log(float64(d)/float64(lo))/math.Log(float64(hi)/float64(lo)))
}

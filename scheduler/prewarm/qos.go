package prewarm

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// WorkflowShape is what the QoS-aware pre-warm decision (PlanQoS) knows of
// a workflow: its end-to-end target, its stages and their element-time
// model, and each stage's function's cold start. The simulator fills it in
// from its stage model, the orchestrator from the workflow's definition and
// its pools' measurements.
type WorkflowShape struct {
	// Name identifies the workflow in errors.
	Name string
	// Latency and Percentile are the QoS: Percentile percent (in (0, 100))
	// of invocations within Latency.
	Latency    time.Duration
	Percentile float64
	// Stages are the workflow's stages, in any order whose needs point
	// backwards or forwards (cycles are refused).
	Stages []StageShape
}

// StageShape is one stage of a WorkflowShape.
type StageShape struct {
	// Name and Function name the stage and the function it calls.
	Name, Function string
	// Needs are the indexes in Stages of the stages it waits for.
	Needs []int
	// Width is the number of elements it calls (a foreach's fan-out, else
	// 1), Parallel how many run at once (≤ Width; 0 means Width).
	Width, Parallel int
	// Median and Sigma model one element's execution time, log-normal.
	Median time.Duration
	Sigma  float64
	// ColdStart is the time to start a sandbox of its function.
	ColdStart time.Duration
}

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

// qosSamples is how many invocations PlanQoS draws; qosSeed seeds them.
const (
	qosSamples = 4000
	qosSeed    = 0x9e3779b97f4a7c15
)

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
// starts the QoS absorbs is pre-warmed frugally.
//
// An unattainable QoS (the warm violation rate past 1 − percentile) is
// reported as such, with no budget: a cold start that adds violations is
// then as dear as it gets, and one that adds none (every invocation late
// already) costs nothing. The model knows no queueing: a burst of calls
// waiting for busy sandboxes is the policy's concurrency floor's concern.
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
	plan.WarmLatency = seconds(warm[min(len(warm)-1, max(0, int(math.Ceil(w.Percentile/100*float64(len(warm))))-1))])
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
	for i := range plan.Functions {
		f := &plan.Functions[i]
		f.ColdStartCost, f.KeepAlive, f.Quantile, f.Concurrency = qosSettings(f.Cost)
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

// violationRate is the share of latencies above qos.
func violationRate(latencies []float64, qos float64) float64 {
	n := 0
	for _, l := range latencies {
		if l > qos {
			n++
		}
	}
	return float64(n) / float64(len(latencies))
}

// validate checks w's QoS and stages.
func (w WorkflowShape) validate() error {
	if w.Latency <= 0 || !(w.Percentile > 0 && w.Percentile < 100) {
		return fmt.Errorf("QoS-aware pre-warming of %s: QoS %v at p%v: want a latency > 0 and a percentile in (0, 100)", w.Name, w.Latency, w.Percentile)
	}
	if len(w.Stages) == 0 {
		return fmt.Errorf("QoS-aware pre-warming of %s: no stages", w.Name)
	}
	for i, s := range w.Stages {
		if s.Width < 1 || s.Parallel < 0 || s.Median < 0 || s.Sigma < 0 || math.IsNaN(s.Sigma) || math.IsInf(s.Sigma, 0) || s.ColdStart < 0 || s.Function == "" {
			return fmt.Errorf("QoS-aware pre-warming of %s: stage %d (%s): function %q, width %d, parallel %d, median %v, sigma %v, cold start %v: want a function, width ≥ 1, parallel ≥ 0 and the times ≥ 0",
				w.Name, i, s.Name, s.Function, s.Width, s.Parallel, s.Median, s.Sigma, s.ColdStart)
		}
	}
	return w.checkNeeds()
}

// topoOrder returns the stages in an order where every stage comes after
// its needs.
func (w WorkflowShape) topoOrder() ([]int, error) {
	order := make([]int, 0, len(w.Stages))
	done := make([]bool, len(w.Stages))
	for len(order) < len(w.Stages) {
		progress := false
		for i, s := range w.Stages {
			if done[i] || slices.ContainsFunc(s.Needs, func(k int) bool { return !done[k] }) {
				continue
			}
			done[i], progress = true, true
			order = append(order, i)
		}
		if !progress {
			return nil, errors.New("QoS-aware pre-warming of " + w.Name + ": its stages' needs form a cycle")
		}
	}
	return order, nil
}

// drawElements draws qosSamples invocations' element times, in seconds:
// out[k][i] lists stage i's elements in invocation k.
func (w WorkflowShape) drawElements() [][][]float64 {
	state := uint64(qosSeed)
	next := func() float64 {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		return (float64(z>>11) + 0.5) / (1 << 53)
	}
	out := make([][][]float64, qosSamples)
	for k := range out {
		out[k] = make([][]float64, len(w.Stages))
		for i, s := range w.Stages {
			els := make([]float64, s.Width)
			for e := range els {
				z := math.Sqrt(-2*math.Log(next())) * math.Cos(2*math.Pi*next())
				els[e] = s.Median.Seconds() * math.Exp(s.Sigma*z)
			}
			out[k][i] = els
		}
	}
	return out
}

// Order returns the indexes of w's stages in an order where every stage
// comes after its needs, for WarmLatency; an error names a cycle or a bad
// need.
func (w WorkflowShape) Order() ([]int, error) {
	if err := w.checkNeeds(); err != nil {
		return nil, err
	}
	return w.topoOrder()
}

// checkNeeds checks that every need is another stage of w.
func (w WorkflowShape) checkNeeds() error {
	for i, s := range w.Stages {
		for _, k := range s.Needs {
			if k < 0 || k >= len(w.Stages) || k == i {
				return fmt.Errorf("QoS-aware pre-warming of %s: stage %d (%s) needs stage %d: want another of the %d stages", w.Name, i, s.Name, k, len(w.Stages))
			}
		}
	}
	return nil
}

// WarmLatency is the end-to-end latency, in seconds, of an invocation
// whose stage i's elements take elements[i] seconds, with every sandbox
// warm and free (no cold start, no queueing): the bound of PlanQoS, for
// a simulator to measure on its own invocations. order is Order's.
func (w WorkflowShape) WarmLatency(order []int, elements [][]float64) float64 {
	return w.latency(order, elements, scenario{})
}

// scenario says when each stage's sandboxes are there: stage i starts
// delay[i] after its needs are done (a cold start on its arrival), and
// not before readyAt[i] after the invocation starts (a chain-warmed
// sandbox); the zero scenario has every sandbox warm.
type scenario struct{ delay, readyAt []float64 }

// latencies are the end-to-end latencies of the drawn invocations under sc.
func (w WorkflowShape) latencies(order []int, draws [][][]float64, sc scenario) []float64 {
	out := make([]float64, len(draws))
	for k := range out {
		out[k] = w.latency(order, draws[k], sc)
	}
	return out
}

// coldArrival are the latencies of the drawn invocations arriving with no
// sandbox warm: the first stages wait their cold starts; a chain-warmed
// stage's sandboxes are started so as to be ready when it is expected
// (ChainWarmAt, after the first stages' cold start and the critical path
// of mean element times before it), the others wait their cold starts.
func (w WorkflowShape) coldArrival(order []int, draws [][][]float64, chain []bool) []float64 {
	sc := scenario{delay: make([]float64, len(w.Stages)), readyAt: make([]float64, len(w.Stages))}
	var rootDelay float64
	for _, s := range w.Stages {
		if len(s.Needs) == 0 {
			rootDelay = max(rootDelay, s.ColdStart.Seconds())
		}
	}
	offsets := w.expectedOffsets(order)
	for i, s := range w.Stages {
		switch {
		case chain[i]:
			at := ChainWarmAt(seconds(rootDelay), seconds(offsets[i]), s.ColdStart)
			sc.readyAt[i] = (at + s.ColdStart).Seconds()
		default:
			sc.delay[i] = s.ColdStart.Seconds()
		}
	}
	return w.latencies(order, draws, sc)
}

// expectedOffsets are the stages' expected starts after the invocation's,
// on warm sandboxes: the longest path of their needs' rounds of mean
// element times (the simulator's and the live chain warming's rule).
func (w WorkflowShape) expectedOffsets(order []int) []float64 {
	offsets := make([]float64, len(w.Stages))
	for _, i := range order {
		for _, k := range w.Stages[i].Needs {
			n := &w.Stages[k]
			rounds := math.Ceil(float64(n.Width) / float64(n.parallel()))
			mean := n.Median.Seconds() * math.Exp(n.Sigma*n.Sigma/2)
			offsets[i] = max(offsets[i], offsets[k]+rounds*mean)
		}
	}
	return offsets
}

// parallel is how many of the stage's elements run at once.
func (s *StageShape) parallel() int {
	if s.Parallel <= 0 || s.Parallel > s.Width {
		return s.Width
	}
	return s.Parallel
}

// latency is one invocation's end-to-end latency, in seconds: each stage
// starts when its needs are done and its sandboxes are there (sc), and
// runs its elements in order on its parallel slots, each element on the
// first slot free.
func (w WorkflowShape) latency(order []int, elements [][]float64, sc scenario) float64 {
	finish := make([]float64, len(w.Stages))
	var slots []float64
	end := 0.0
	for _, i := range order {
		s := &w.Stages[i]
		start := 0.0
		for _, k := range s.Needs {
			start = max(start, finish[k])
		}
		if sc.delay != nil {
			start = max(start+sc.delay[i], sc.readyAt[i])
		}
		slots = slots[:0]
		for range s.parallel() {
			slots = append(slots, start)
		}
		done := start
		for _, d := range elements[i] {
			j := slices.Index(slots, slices.Min(slots))
			slots[j] += d
			done = max(done, slots[j])
		}
		finish[i] = done
		end = max(end, done)
	}
	return end
}

// seconds turns float seconds into a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

package prewarm

import (
	"fmt"
	"math"
	"time"
)

// IdleEstimate is what a workflow's QoS-aware pre-warm plan (PlanQoS)
// costs between its invocations when they arrive as a Poisson process,
// amortised per invocation, and the QoS it then keeps: the part of a
// configuration's cost that its execution cost leaves out.
type IdleEstimate struct {
	// ArrivalsPerSecond is the workflow's invocation rate.
	ArrivalsPerSecond float64
	// Functions are the functions' shares, in the plan's order.
	Functions []FunctionIdle
	// IdleSeconds and StartSeconds are the sandbox-seconds per invocation
	// spent idle and starting sandboxes, summed over the functions, and
	// USD what they cost.
	IdleSeconds, StartSeconds, USD float64
	// ViolationRate is the expected share of invocations past the QoS
	// with the cold starts the plan lets through; Allowed is 1 −
	// percentile, and Feasible says whether the QoS is attainable and
	// ViolationRate within Allowed.
	ViolationRate, Allowed float64
	Feasible               bool
}

// FunctionIdle is one function's share of an IdleEstimate.
type FunctionIdle struct {
	Function string
	// Sandboxes is how many of its calls one invocation runs at once (the
	// widest parallel of its stages), Calls how many it runs in all.
	Sandboxes, Calls int
	// Keep is how long the first sandbox stays after a call, KeepAlive
	// how long the others do, Floor the sandboxes the concurrency floor
	// keeps (counted from two, as aquatope's planner does).
	Keep, KeepAlive time.Duration
	Floor           int
	// ColdProbability is the probability that an invocation finds too
	// few of its sandboxes warm (one of its calls waits for a cold start).
	ColdProbability float64
	// IdleSeconds and StartSeconds are per invocation; USD what they cost
	// at the function's price.
	IdleSeconds, StartSeconds, USD float64
}

// IdleCost estimates the idle and start-up cost per invocation of plan p
// for workflow w (p is PlanQoS(w)) at arrivalsPerSecond Poisson
// invocations, a sandbox-second of function f costing usdPerSecond[f] (the
// cost model's rate at its CPU and memory). A pure function.
//
// Each function's settings are those aquatope's planner runs with under
// the plan. Its first sandbox follows the idle window at the plan's price
// of a cold start C: for Poisson arrivals, whose gaps are memoryless, the
// window's cost per gap, E[min(gap, K)] + P(gap > K)·C, falls with K when
// λC > 1 and rises otherwise, so the sandbox is kept the window's whole
// range (two hours) after a call when λC > 1 and half a planning interval
// otherwise (the planner's keep-alive under an empty window). The other
// sandboxes of an invocation's fan-out are kept the plan's KeepAlive. A
// sandbox kept K after each call idles min(gap, K) per gap: (1 −
// e^{−λK})/λ per invocation, and a call finds it gone with probability
// e^{−λK}. Where the calls in flight need two or more sandboxes, the
// concurrency floor (its Concurrency quantile of a Poisson count) idles
// whatever it keeps beyond the calls' busy time, when that is more than the
// keep-alives idle. Each cold start spends the function's cold start of
// sandbox time starting it.
//
// The violations: on top of the warm rate, each function adds, when it is
// cold, what its cold start costs the QoS (ColdViolationRate less the
// warm rate; for a first stage's function, at least a cold arrival's),
// except a function whose stages are all chain-warmed, whose sandboxes
// are started ahead of them. The sum assumes functions cold at once are
// rare, which holds where the estimate is feasible.
func IdleCost(w WorkflowShape, p QoSPlan, arrivalsPerSecond float64, usdPerSecond map[string]float64) (IdleEstimate, error) {
	if !(arrivalsPerSecond > 0) || math.IsInf(arrivalsPerSecond, 0) {
		return IdleEstimate{}, fmt.Errorf("idle cost of %s: %v arrivals a second: want a finite rate > 0", w.Name, arrivalsPerSecond)
	}
	if len(p.ChainWarm) != len(w.Stages) {
		return IdleEstimate{}, fmt.Errorf("idle cost of %s: a plan of %d stages for %d", w.Name, len(p.ChainWarm), len(w.Stages))
	}
	lambda := arrivalsPerSecond
	est := IdleEstimate{ArrivalsPerSecond: lambda, Allowed: 1 - w.Percentile/100, ViolationRate: p.WarmViolationRate}
	for _, q := range p.Functions {
		price, ok := usdPerSecond[q.Function]
		if !ok || !(price >= 0) {
			return IdleEstimate{}, fmt.Errorf("idle cost of %s: function %s has price %v: want one ≥ 0", w.Name, q.Function, price)
		}
		f := FunctionIdle{Function: q.Function, KeepAlive: q.KeepAlive, Keep: firstKeep(q, lambda)}
		var busy, coldStart float64 // seconds of calls per invocation, seconds to start a sandbox
		chained, root := true, false
		for i, s := range w.Stages {
			if s.Function != q.Function {
				continue
			}
			f.Calls += s.Width
			f.Sandboxes = max(f.Sandboxes, s.parallel())
			busy += float64(s.Width) * s.meanElement()
			coldStart = max(coldStart, s.ColdStart.Seconds())
			chained = chained && p.ChainWarm[i]
			root = root || len(s.Needs) == 0
		}
		// The floor at the rate: calls in flight Poisson with mean λ·busy
		// (the forecast taken as exact: a steady rate is what it learns).
		inFlight := lambda * busy
		if floor := concurrencyFloor(inFlight, Function{MeanDuration: time.Minute, Interval: time.Minute}, q.Concurrency); floor >= 2 {
			f.Floor = floor
		}
		first, others := math.Exp(-lambda*f.Keep.Seconds()), math.Exp(-lambda*f.KeepAlive.Seconds())
		if f.Floor >= 1 {
			first = 0
		}
		if f.Floor >= f.Sandboxes {
			others = 0
		}
		extra := float64(f.Sandboxes - 1)
		keepIdle := (1-math.Exp(-lambda*f.Keep.Seconds()))/lambda + extra*(1-math.Exp(-lambda*f.KeepAlive.Seconds()))/lambda
		f.IdleSeconds = max(keepIdle, (float64(f.Floor)-inFlight)/lambda)
		f.StartSeconds = coldStart * (first + extra*others)
		f.ColdProbability = 1 - (1-first)*math.Pow(1-others, extra)
		f.USD = (f.IdleSeconds + f.StartSeconds) * price
		cold := q.ColdViolationRate
		if root {
			cold = max(cold, p.ColdArrivalViolationRate)
		}
		if !chained || root {
			est.ViolationRate += f.ColdProbability * max(0, cold-p.WarmViolationRate)
		}
		est.IdleSeconds += f.IdleSeconds
		est.StartSeconds += f.StartSeconds
		est.USD += f.USD
		est.Functions = append(est.Functions, f)
	}
	est.ViolationRate = min(1, est.ViolationRate)
	est.Feasible = p.Attainable && est.ViolationRate <= est.Allowed
	return est, nil
}

// firstKeep is how long aquatope's planner keeps a function's first
// sandbox after a call under settings q with Poisson arrivals at lambda a
// second: the idle window's whole range when a cold start costs more than
// the mean gap (λ·C > 1), else half a planning interval (see Plan).
func firstKeep(q FunctionQoS, lambda float64) time.Duration {
	if lambda*q.ColdStartCost.Seconds() > 1 {
		return idleWindowRange
	}
	return min(q.KeepAlive, time.Minute/2)
}

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
	// keeps (counted from two, as aquatope's planner does). For a function
	// with an allowed cold share (FunctionQoS.AllowedCold > 0), Keep is
	// the end of the idle window, counted from the interval of the last
	// call (see poissonWindow; zero when the floor keeps the first
	// sandbox), and Floor and KeepAlive the floor and keep-alive of
	// coldFractionChoice (any floor counts).
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
// A function with an allowed cold share (AllowedCold > 0) is priced as
// the planner plans it (planAllowedCold) instead. Between close calls, the
// floor F and keep-alive K of coldFractionChoice at the planner's
// arguments (the calls in flight of the median forecast, m = Calls ×
// the Poisson median of λτ × mean duration / τ for an interval τ, rounded
// as floorKeepKey does: zero below ln 2 invocations an interval, where
// the planner keeps nothing between calls; its Batch, a horizon of two
// intervals and AllowedCold), K raised to the ChainHold (and to two
// intervals under a keep window): the level model at the mean calls in
// flight λ·Calls·mean duration gives each call's chance of finding no
// warm sandbox and its idle (levelModel.perCall). Between
// calls two or more intervals apart, the idle window chosen by
// AllowedColdArrivals per call (poissonWindow), unless F ≥ 1 keeps the
// first sandbox anyway. An invocation is cold when it arrives cold (the
// window misses its interval) or any of its Calls finds no warm sandbox;
// each cold start spends the function's cold start of sandbox time. The
// keep-alive's idle and the window's overlap where the keep-alive runs
// into the window's first interval (the same sandbox): that is taken out
// once. The two models split the calls at different lines (gaps under
// the horizon; ITs of two intervals and more), so where every call is
// cold they count about nine in ten of them (a sixth of a gap's range is
// in neither), and the level model leaves out the second and later
// sandboxes a cold arrival's batch starts.
//
// The violations: on top of the warm rate, each function adds, when it is
// cold, what its cold start costs the QoS (ColdViolationRate less the
// warm rate; for a first stage's function, at least a cold arrival's),
// except a function whose stages are all chain-warmed, whose sandboxes
// are started ahead of them. For functions with an allowed cold share, a
// cold arrival adds the plan's ColdArrivalViolationRate less the warm
// rate, once for the workflow (its functions see the same arrivals, so
// their windows miss the same ones: the most any misses), and the calls
// finding no warm sandbox otherwise the ColdViolationRate less the warm
// rate as above. The sum assumes functions cold at once are rare, which
// holds where the estimate is feasible.
func IdleCost(w WorkflowShape, p QoSPlan, arrivalsPerSecond float64, usdPerSecond map[string]float64) (IdleEstimate, error) {
	if !(arrivalsPerSecond > 0) || math.IsInf(arrivalsPerSecond, 0) {
		return IdleEstimate{}, fmt.Errorf("idle cost of %s: %v arrivals a second: want a finite rate > 0", w.Name, arrivalsPerSecond)
	}
	if len(p.ChainWarm) != len(w.Stages) {
		return IdleEstimate{}, fmt.Errorf("idle cost of %s: a plan of %d stages for %d", w.Name, len(p.ChainWarm), len(w.Stages))
	}
	lambda := arrivalsPerSecond
	est := IdleEstimate{ArrivalsPerSecond: lambda, Allowed: 1 - w.Percentile/100, ViolationRate: p.WarmViolationRate}
	coldArrivals := 0.0 // per invocation, of the functions with an allowed cold share
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
		if f.Calls == 0 {
			// No calls to price: the figures would be NaN or negative.
			return IdleEstimate{}, fmt.Errorf("idle cost of %s: function %s of the plan runs no stage", w.Name, q.Function)
		}
		// coldCalls is the chance its cold starts cost the QoS: for a
		// function with an allowed cold share, that of a call finding no
		// warm sandbox other than on a cold arrival (counted once for the
		// workflow, below).
		var coldCalls float64
		if q.AllowedCold > 0 {
			var arrivals float64
			arrivals, coldCalls = allowedColdIdle(&f, q, lambda, busy, coldStart)
			coldArrivals = max(coldArrivals, arrivals)
		} else {
			// The floor at the rate: calls in flight Poisson with mean
			// λ·busy (the forecast taken as exact: a steady rate is what
			// it learns).
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
			coldCalls = f.ColdProbability
		}
		f.USD = (f.IdleSeconds + f.StartSeconds) * price
		cold := q.ColdViolationRate
		if root {
			cold = max(cold, p.ColdArrivalViolationRate)
		}
		if !chained || root {
			est.ViolationRate += coldCalls * max(0, cold-p.WarmViolationRate)
		}
		est.IdleSeconds += f.IdleSeconds
		est.StartSeconds += f.StartSeconds
		est.USD += f.USD
		est.Functions = append(est.Functions, f)
	}
	est.ViolationRate += coldArrivals * max(0, p.ColdArrivalViolationRate-p.WarmViolationRate)
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

// allowedColdIdle fills f's Floor, KeepAlive, Keep, ColdProbability,
// IdleSeconds and StartSeconds for a function with an allowed cold share
// (see IdleCost), at lambda invocations a second of which each keeps its
// calls busy busy seconds in all and whose cold start takes coldStart
// seconds, and returns its cold arrivals per invocation and the chance
// that one of an invocation's calls finds no warm sandbox otherwise.
func allowedColdIdle(f *FunctionIdle, q FunctionQoS, lambda, busy, coldStart float64) (arrivals, others float64) {
	interval := time.Minute // the planning interval (intervalOrMinute)
	horizon := 2 * interval
	calls := float64(max(f.Calls, 1))
	meanDuration := time.Duration(busy / calls * float64(time.Second))
	// The planner's calls in flight: the median forecast's calls an
	// interval (for a steady Poisson rate, the Poisson median of the
	// invocations an interval, each sending Calls) times the mean
	// duration, over the interval. It is zero below ln 2 invocations an
	// interval, where the planner keeps no sandbox between calls.
	perInterval := float64(poissonQuantile(lambda*interval.Seconds(), 0.5))
	m := perInterval * busy / interval.Seconds()
	key := floorKeepKey(m, q.AllowedCold)
	batch := max(q.Batch, 1)
	c := coldFractionChoice(loadInFlight(key), batch, meanDuration, horizon, loadShare(key), nil)
	bins := min(max(int(idleWindowRange/interval), 1), idleWindowMaxBins)
	win := poissonWindow(lambda, interval, q.AllowedColdArrivals, bins)
	keepAlive := max(c.keepAlive, q.ChainHold)
	if win.prewarm == 0 && win.keep > 0 {
		keepAlive = max(keepAlive, 2*interval)
	}
	// The level model at the actual calls in flight (λ·busy) prices it.
	cold, idle := newLevelModel(lambda*busy, batch, nil).perCall(c.floor, keepAlive, meanDuration, horizon)
	f.Floor, f.KeepAlive, f.Keep = c.floor, keepAlive, 0
	windowIdle := win.idle
	arrivals = win.coldArrivals
	if c.floor >= 1 {
		// The floor keeps the first sandbox: the window adds nothing.
		arrivals, windowIdle = 0, 0
	} else {
		f.Keep = time.Duration(win.prewarm+win.keep) * interval
		if win.prewarm > 0 {
			// The keep-alive's sandbox is the one the window holds until
			// it goes: take out the overlap, from the start of the
			// window's first interval to the keep-alive's end, for a last
			// call half an interval into its own, on each IT the window
			// reaches (p₀^{p−1} of the (1 − p₀)/μ ITs an invocation).
			mu := lambda * interval.Seconds()
			p0 := math.Exp(-mu)
			over := min(max(0.5+keepAlive.Seconds()/interval.Seconds()-float64(win.prewarm), 0), float64(win.keep+1))
			windowIdle = max(0, windowIdle-over*interval.Seconds()*math.Pow(p0, float64(win.prewarm-1))*(1-p0)/mu)
		}
	}
	f.IdleSeconds = calls*idle + windowIdle
	f.StartSeconds = coldStart * (arrivals + calls*cold)
	others = 1 - math.Pow(1-cold, calls)
	f.ColdProbability = 1 - (1-arrivals)*(1-others)
	return arrivals, others
}

// windowEstimate is the idle window idleWindow.fit chooses for invocations
// arriving as a Poisson process (see poissonWindow), in intervals, and
// per invocation the idle sandbox-seconds and cold arrivals it leaves.
type windowEstimate struct {
	prewarm, keep      int
	idle, coldArrivals float64
}

// poissonWindow is the idle window aquatope's planner chooses for a
// function with an allowed cold share, invocations arriving as a Poisson
// process at lambda a second, allowedArrivals of them allowed to arrive
// cold (FunctionQoS.AllowedColdArrivals: the window's missShare is that
// per call, and it counts calls, so it may miss allowedArrivals per
// invocation), with bins intervals of range.
//
// The derivation, in intervals of length τ, with μ = λτ invocations an
// interval on average: an interval is empty with probability p₀ = e^{−μ},
// independently, so an idle time (IT: intervals from one with arrivals to
// the next) is geometric, P(IT = t) = (1 − p₀)·p₀^{t−1}, and P(IT ≥ t) =
// p₀^{t−1}. The window counts misses leaving out ITs of one (the keep-
// alive's), and may miss a = allowedArrivals·μ/(1 − p₀) per IT (there are
// (1 − p₀)/μ ITs an invocation). Per IT, with q = 1 − p₀:
//
//   - keep nothing: misses P(IT ≥ 2) = p₀, idles nothing;
//   - keep k ≥ 1: misses p₀^k, idles E[min(IT, k)] = (1 − p₀^k)/q;
//   - pre-warm p ≥ 2, keep k: misses the ITs in [2, p−1] and past p+k,
//     p₀ − p₀^{p−1}(1 − p₀^{k+1}); idles IT − p + ½ on the ITs it holds
//     and k + 1 on those past it. Given IT ≥ p, IT − p + 1 is geometric
//     again (memoryless), so the idle is p₀^{p−1}·(E[min(U, k+1)] −
//     ½·P(U ≤ k+1)) = p₀^{p−1}(1 − p₀^{k+1})(1/q − ½).
//
// Write c for the share of ITs a window catches beyond keeping nothing:
// a pre-warm window misses p₀ − c and idles c·(1/q − ½), a keep window
// (k ≥ 2; keep 1 catches nothing and idles 1) catches c = p₀ − p₀^k and
// idles 1 + c/q, more than pre-warm (2, k−2), which catches the same. So
// for memoryless arrivals a pre-warm window dominates a keep one (not the
// other way: the window's accounting leaves ITs of one to the keep-alive,
// and a keep window idles through them), and the least idle within the
// allowed misses is the window with the smallest c ≥ p₀ − a: keep nothing
// when p₀ ≤ a, else the least over p of p₀^{p−1}(1 − p₀^j) with j = k+1
// the least with p₀^j ≤ 1 − (p₀ − a)/p₀^{p−1} (p + k within the range).
// When none is within a, the fewest misses: pre-warm (2, range − 2),
// c = p₀(1 − p₀^{range−1}).
//
// Per invocation, the window then idles c(1/q − ½)·τ·q/μ = c(1 + p₀)/(2λ)
// seconds and lets (p₀ − c)·q/μ invocations arrive cold. Those are the
// window's own accounts: it reckons a held IT's arrival half an interval
// into it, and ignores that the planner's floor runs two intervals behind
// the arrivals (an IT of one still finds the floor the IT before set).
func poissonWindow(lambda float64, interval time.Duration, allowedArrivals float64, bins int) windowEstimate {
	mu := lambda * interval.Seconds()
	p0 := math.Exp(-mu)
	q := 1 - p0
	if q <= 0 {
		return windowEstimate{}
	}
	a := allowedArrivals * mu / q
	est := func(prewarm, keep int, c float64) windowEstimate {
		return windowEstimate{prewarm: prewarm, keep: keep, idle: c * (1 + p0) / (2 * lambda), coldArrivals: (p0 - c) * q / mu}
	}
	if p0 <= a {
		return est(0, 0, 0)
	}
	need := p0 - a
	best, bestP, bestK := math.Inf(1), 0, 0
	for p := idleWindowMinPrewarm; p <= bins; p++ {
		cp := math.Pow(p0, float64(p-1))
		if cp <= need {
			break // later pre-warms catch less
		}
		j := max(1, int(math.Ceil(math.Log(1-need/cp)/math.Log(p0))))
		for j > 1 && cp*(1-math.Pow(p0, float64(j-1))) >= need {
			j--
		}
		for cp*(1-math.Pow(p0, float64(j))) < need {
			j++
		}
		if p+j-1 > bins {
			continue
		}
		if c := cp * (1 - math.Pow(p0, float64(j))); c < best {
			best, bestP, bestK = c, p, j-1
		}
	}
	if math.IsInf(best, 1) {
		return est(idleWindowMinPrewarm, bins-idleWindowMinPrewarm, p0*(1-math.Pow(p0, float64(bins-1))))
	}
	return est(bestP, bestK, best)
}

package scheduler

import (
	"math"

	"baton.dev/baton/scheduler/stats"
)

// WindowSafePercentile returns the latency percentile that must meet the
// target so that a window of `window` invocations misses its p-th
// (nearest-rank) percentile with probability at most missRate.
//
// A window misses when more than k = window − ⌈p·window/100⌉ of its
// invocations exceed the target. If each exceeds it independently with
// probability e, misses follow P(Binomial(window, e) > k); the result is
// 100·(1 − e*) for the largest e* with that probability ≤ missRate. For
// p = 95, window = 100 and missRate = 1% it is about the 98.6th percentile:
// meeting p95 over every window needs far more than meeting p95 on average.
func WindowSafePercentile(p float64, window int, missRate float64) float64 {
	k := windowSlack(p, window)
	lo, hi := 0.0, 1-p/100
	for i := 0; i < 60; i++ {
		mid := (lo + hi) / 2
		if binomialTail(window, k, mid) <= missRate {
			lo = mid
		} else {
			hi = mid
		}
	}
	return 100 * (1 - lo)
}

// binomialTail is P(Binomial(n, e) > k).
func binomialTail(n, k int, e float64) float64 {
	if e <= 0 {
		return 0
	}
	var cdf float64
	for i := 0; i <= k && i <= n; i++ {
		lg, _ := math.Lgamma(float64(n + 1))
		li, _ := math.Lgamma(float64(i + 1))
		lni, _ := math.Lgamma(float64(n - i + 1))
		cdf += math.Exp(lg - li - lni + float64(i)*math.Log(e) + float64(n-i)*math.Log1p(-e))
	}
	return math.Max(0, 1-cdf)
}

// WindowMissProbability is the probability that a window of `window`
// invocations misses its p-th (nearest-rank) percentile when each
// invocation exceeds the target independently with probability exceed.
func WindowMissProbability(p float64, window int, exceed float64) float64 {
	return binomialTail(window, windowSlack(p, window), exceed)
}

// windowSlack is how many of a window's invocations may exceed the target
// before its p-th percentile does: those ranked past the percentile's
// (stats.Rank, as validation judges a window).
func windowSlack(p float64, window int) int {
	return max(0, window-stats.Rank(window, p))
}

// BindingTarget returns the tightest latency target, at percentile p, that
// configuration c meets by the truth in all but missRate of windows of
// `window` invocations: the WindowSafePercentile of c's latency, rounded up
// to a whole millisecond. Run with c every knob at its upper bound, it is
// the tightest target the workflow can promise, where the QoS binds.
func BindingTarget(truth Truth, c Config, p float64, window int, missRate float64) Target {
	q := WindowSafePercentile(p, window, missRate)
	return Target{LatencyMs: math.Ceil(truth.LatencyPercentileMs(c, q)), Percentile: p}
}

// expectedWindowMiss is the expected share of windows of `window`
// invocations that miss their p-th percentile for a configuration whose
// log latency at the window-safe percentile quantile, less the log target,
// is d ~ N(mean, sd²): each invocation exceeds the target with probability
// e*·e^(κd) (e* the window-safe exceedance, 1 − quantile/100; κ the tail's
// slope), and a window misses as WindowMissProbability says. The
// expectation is over a 41-point trapezoid grid on ±5 sd.
func expectedWindowMiss(p, quantile float64, window int, mean, sd, kappa float64) float64 {
	eStar := 1 - quantile/100
	miss := func(d float64) float64 {
		return WindowMissProbability(p, window, math.Min(1, eStar*math.Exp(kappa*d)))
	}
	if sd <= 0 {
		return miss(mean)
	}
	const n, span = 41, 5.0
	var sum, wsum float64
	for k := 0; k < n; k++ {
		z := -span + 2*span*float64(k)/(n-1)
		w := math.Exp(-z * z / 2)
		if k == 0 || k == n-1 {
			w /= 2
		}
		sum += w * miss(mean+sd*z)
		wsum += w
	}
	return sum / wsum
}

// tailSlopeOver is κ, the slope of the log exceedance probability in log
// latency, for a tail whose log latency rises by logGap from the p-th
// percentile to the quantile-th (floored at 0.1%: where both fall on one
// value, the tail is taken as a near-step).
func tailSlopeOver(p, quantile, logGap float64) float64 {
	return math.Log((100-p)/(100-quantile)) / math.Max(1e-3, logGap)
}

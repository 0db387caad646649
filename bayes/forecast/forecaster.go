package forecast

import "math"

// Forecaster predicts the count of one series (a function's arrivals per
// interval) from the counts seen so far. It is not safe for concurrent use.
type Forecaster interface {
	// Observe appends the count of the next interval.
	Observe(count int)
	// Predict returns the predictive distribution of the count Horizon
	// intervals after the last observed one (the next interval for
	// Horizon 1).
	Predict() Predictive
	// Horizon is how many intervals ahead Predict looks (at least 1).
	Horizon() int
}

// Predictive is a predictive distribution over counts 0, 1, 2, ….
type Predictive interface {
	// Mean is the expected count.
	Mean() float64
	// CDF is P(N ≤ k); zero for k < 0.
	CDF(k int) float64
	// Quantile is the smallest k with CDF(k) ≥ p, for p in (0, 1).
	Quantile(p float64) int
}

// quantileBySearch finds the smallest k ≥ 0 with cdf(k) ≥ p, starting from
// guess (any k ≥ 0) and searching by doubling then bisection.
func quantileBySearch(cdf func(int) float64, p float64, guess int) int {
	if p <= 0 || cdf(0) >= p {
		return 0
	}
	lo, hi := 0, max(guess, 1) // cdf(lo) < p
	for cdf(hi) < p {
		lo = hi
		if hi > math.MaxInt32/2 {
			return hi
		}
		hi *= 2
	}
	for hi-lo > 1 { // cdf(lo) < p ≤ cdf(hi)
		mid := lo + (hi-lo)/2
		if cdf(mid) >= p {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

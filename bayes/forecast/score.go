package forecast

import "math"

// Scores are a forecaster's figures on one series, each averaged over the
// scored intervals.
type Scores struct {
	// Points is the number of scored intervals.
	Points int
	// LogScore is the mean log predictive probability of the observed
	// count (higher is better).
	LogScore float64
	// Coverage90 is the fraction of observations inside the central 90%
	// predictive interval, counted for a discrete predictive as the
	// expected value of the randomised probability integral transform
	// falling in [0.05, 0.95] (Czado, Gneiting and Held 2009): a calibrated
	// forecaster scores 0.9 whatever the counts.
	Coverage90 float64
	// IntervalCoverage90 is the plain fraction of observations in
	// [Quantile(0.05), Quantile(0.95)]; for small counts it exceeds 0.9
	// even for a calibrated forecaster, because of the discreteness.
	IntervalCoverage90 float64
}

// Score runs f over counts, predicting each count from those before it
// (Horizon intervals ahead) and scoring the predictions from interval skip
// on. f is left having observed all of counts.
func Score(f Forecaster, counts []int, skip int) Scores {
	var s Scores
	h := f.Horizon()
	for t := range counts {
		target := t + h - 1 // the interval Predict looks at after observing counts[:t]
		if target >= skip && target < len(counts) {
			p := f.Predict()
			y := counts[target]
			lo, hi := p.CDF(y-1), p.CDF(y)
			s.LogScore += math.Log(math.Max(hi-lo, 1e-12))
			if hi > lo {
				s.Coverage90 += math.Max(0, math.Min(hi, 0.95)-math.Max(lo, 0.05)) / (hi - lo)
			} else if lo >= 0.05 && lo <= 0.95 {
				s.Coverage90++
			}
			if y >= p.Quantile(0.05) && y <= p.Quantile(0.95) {
				s.IntervalCoverage90++
			}
			s.Points++
		}
		f.Observe(counts[t])
	}
	if s.Points > 0 {
		n := float64(s.Points)
		s.LogScore /= n
		s.Coverage90 /= n
		s.IntervalCoverage90 /= n
	}
	return s
}

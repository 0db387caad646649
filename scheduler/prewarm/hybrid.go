package prewarm

import (
	"fmt"
	"math"
	"time"
)

// HybridHistogram is the hybrid histogram policy of Shahrad et al.,
// "Serverless in the Wild" (ATC'20), per function. It keeps a histogram of
// the function's idle times (ITs: intervals between consecutive intervals
// with an invocation), one bin per interval up to Range, and after each
// invocation:
//
//   - while the histogram is not representative (fewer than MinSamples ITs,
//     or its bin counts' coefficient of variation below MinCV: no pattern),
//     it falls back to a standard keep-alive of Range with no pre-warming;
//   - when more than MaxOutOfBounds of the ITs exceed Range, it predicts the
//     next IT from the recent out-of-bounds ones (the paper uses ARIMA; here
//     their mean in log space, a documented simplification) and pre-warms
//     at 85% of it, keeping the sandbox for 30% of it;
//   - otherwise the pre-warm window is the 5th percentile of the ITs less
//     Margin and the keep-alive window reaches the 99th percentile plus
//     Margin.
//
// A pre-warm window of zero keeps the sandbox alive for the keep-alive
// window after each invocation; a positive one unloads it at once and
// loads it back (floor one) from the pre-warm window after the last
// invocation until the keep-alive window has passed.
type HybridHistogram struct {
	// Range is the histogram's span (default 4 hours).
	Range time.Duration
	// MinSamples (default 10) and MinCV (default 2) decide when the
	// histogram is representative.
	MinSamples int
	MinCV      float64
	// MaxOutOfBounds is the share of ITs beyond Range above which the
	// policy forecasts ITs instead (default 0.5).
	MaxOutOfBounds float64
	// Margin widens both windows (default 0.1: 10%).
	Margin float64
}

// Name implements PrewarmPolicy: hybrid-histogram, followed by its range
// where it is not the default (hybrid-histogram-1h).
func (h HybridHistogram) Name() string {
	if h.Range == 0 || h.Range == defaultHybridRange {
		return "hybrid-histogram"
	}
	return "hybrid-histogram-" + shortDuration(h.Range)
}

// defaultHybridRange is the hybrid histogram's default range.
const defaultHybridRange = 4 * time.Hour

// ChainWarming implements PrewarmPolicy.
func (HybridHistogram) ChainWarming() bool { return false }

// NewPlanner implements PrewarmPolicy.
func (h HybridHistogram) NewPlanner(f Function) (Planner, error) {
	if h.Range == 0 {
		h.Range = defaultHybridRange
	}
	if h.MinSamples == 0 {
		h.MinSamples = 10
	}
	if h.MinCV == 0 {
		h.MinCV = 2
	}
	if h.MaxOutOfBounds == 0 {
		h.MaxOutOfBounds = 0.5
	}
	if h.Margin == 0 {
		h.Margin = 0.1
	}
	interval := intervalOrMinute(f)
	bins := int(h.Range / interval)
	if bins < 1 || h.MinSamples < 1 || h.MinCV < 0 || h.MaxOutOfBounds <= 0 || h.MaxOutOfBounds > 1 || h.Margin < 0 {
		return nil, fmt.Errorf("hybrid-histogram policy for %s: %+v: want a range of at least one interval and sane thresholds", f.Name, h)
	}
	return &hybridPlanner{cfg: h, interval: interval, bins: make([]int, bins+1), last: -1}, nil
}

type hybridPlanner struct {
	cfg      HybridHistogram
	interval time.Duration
	bins     []int // bins[k]: ITs of k intervals, k = 1 … len−1
	inBounds int
	oob      int
	recentOB []float64 // the latest out-of-bounds ITs, in intervals
	last     int       // last interval with an invocation; −1 before the first
	// The windows decided at the last invocation, in intervals.
	prewarm, keepalive int
}

const hybridRecentOutOfBounds = 8

func (p *hybridPlanner) Observe(i, arrivals int) {
	if arrivals <= 0 {
		return
	}
	if p.last >= 0 {
		it := i - p.last
		if it < len(p.bins) {
			p.bins[it]++
			p.inBounds++
		} else {
			p.oob++
			p.recentOB = append(p.recentOB, float64(it))
			if len(p.recentOB) > hybridRecentOutOfBounds {
				p.recentOB = p.recentOB[1:]
			}
		}
	}
	p.last = i
	p.prewarm, p.keepalive = p.windows()
}

// windows returns the pre-warm and keep-alive windows in intervals.
func (p *hybridPlanner) windows() (prewarm, keepalive int) {
	rangeIntervals := len(p.bins) - 1
	total := p.inBounds + p.oob
	if total > 0 && float64(p.oob)/float64(total) > p.cfg.MaxOutOfBounds && len(p.recentOB) > 0 {
		var logSum float64
		for _, it := range p.recentOB {
			logSum += math.Log(it)
		}
		next := math.Exp(logSum / float64(len(p.recentOB)))
		return int(0.85*next + 1e-9), max(1, int(math.Ceil(0.3*next-1e-9)))
	}
	if total < p.cfg.MinSamples || p.cv() < p.cfg.MinCV {
		return 0, rangeIntervals
	}
	p5, p99 := p.percentile(0.05), p.percentile(0.99)
	prewarm = int(math.Floor(float64(p5) * (1 - p.cfg.Margin)))
	end := int(math.Ceil(float64(p99) * (1 + p.cfg.Margin)))
	return prewarm, max(1, end-prewarm)
}

// cv is the coefficient of variation of the in-bounds bin counts.
func (p *hybridPlanner) cv() float64 {
	n := float64(len(p.bins) - 1)
	mean := float64(p.inBounds) / n
	if mean == 0 {
		return 0
	}
	var ss float64
	for _, c := range p.bins[1:] {
		d := float64(c) - mean
		ss += d * d
	}
	return math.Sqrt(ss/n) / mean
}

// percentile returns the smallest IT with at least q of the in-bounds ITs
// at or below it.
func (p *hybridPlanner) percentile(q float64) int {
	need := q * float64(p.inBounds)
	acc := 0
	for k := 1; k < len(p.bins); k++ {
		acc += p.bins[k]
		if float64(acc) >= need && acc > 0 {
			return k
		}
	}
	return len(p.bins) - 1
}

func (p *hybridPlanner) Plan(i int) Decision {
	if p.last < 0 {
		return Decision{KeepAlive: time.Duration(len(p.bins)-1) * p.interval}
	}
	if p.prewarm == 0 {
		return Decision{KeepAlive: time.Duration(p.keepalive) * p.interval}
	}
	since := i - p.last
	if since >= p.prewarm && since <= p.prewarm+p.keepalive {
		return Decision{Floor: 1}
	}
	return Decision{}
}

func (p *hybridPlanner) Lead() time.Duration { return 0 }

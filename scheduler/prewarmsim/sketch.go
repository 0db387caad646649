package prewarmsim

import (
	"math"

	"baton.dev/baton/scheduler/stats"
)

// SketchRelativeError is the relative error of the percentiles the
// simulator reports (the workflows' end-to-end p99s): each is within 0.1%
// of the exact nearest-rank percentile of the same values.
const SketchRelativeError = 0.001

// sketchLogGamma is ln γ for γ = (1+α)/(1−α), α = SketchRelativeError:
// 2 atanh α by its series, exact in float64 for so small an α.
const sketchLogGamma = 2 * (SketchRelativeError + SketchRelativeError*SketchRelativeError*SketchRelativeError/3 +
	SketchRelativeError*SketchRelativeError*SketchRelativeError*SketchRelativeError*SketchRelativeError/5)

// sketchZero is the largest value counted as zero.
const sketchZero = 1e-9

// latencySketch counts non-negative values in logarithmic buckets, bucket
// i holding (γ^(i−1), γ^i] (a DDSketch): whatever the number of values it
// costs a bucket per factor γ between the smallest and the largest, and a
// quantile, read as the bucket's midpoint 2γ^i/(γ+1), is within
// SketchRelativeError of the exact value of that rank.
type latencySketch struct {
	n      int
	zeros  int     // values ≤ sketchZero
	offset int     // bucket index of counts[0]
	counts []int64 // from offset on
}

// bucket returns the bucket index of x > sketchZero.
func bucket(x float64) int { return int(math.Ceil(math.Log(x) / sketchLogGamma)) }

// add counts x.
func (s *latencySketch) add(x float64) {
	s.n++
	if x <= sketchZero {
		s.zeros++
		return
	}
	s.addBucket(bucket(x), 1)
}

// addBucket adds n to bucket i, growing the buckets to reach it.
func (s *latencySketch) addBucket(i int, n int64) {
	switch {
	case len(s.counts) == 0:
		s.offset = i
		s.counts = append(s.counts, 0)
	case i < s.offset:
		grown := make([]int64, len(s.counts)+s.offset-i)
		copy(grown[s.offset-i:], s.counts)
		s.counts, s.offset = grown, i
	case i >= s.offset+len(s.counts):
		s.counts = append(s.counts, make([]int64, i-s.offset-len(s.counts)+1)...)
	}
	s.counts[i-s.offset] += n
}

// merge adds o's values.
func (s *latencySketch) merge(o *latencySketch) {
	if o == nil {
		return
	}
	s.n += o.n
	s.zeros += o.zeros
	for k, c := range o.counts {
		if c > 0 {
			s.addBucket(o.offset+k, c)
		}
	}
}

// count is the number of values.
func (s *latencySketch) count() int {
	if s == nil {
		return 0
	}
	return s.n
}

// percentile returns the p-th percentile by nearest rank (package stats),
// 0 for none.
func (s *latencySketch) percentile(p float64) float64 {
	if s.count() == 0 {
		return 0
	}
	rank := int64(stats.Rank(s.n, p))
	seen := int64(s.zeros)
	if seen >= rank {
		return 0
	}
	gamma := math.Exp(sketchLogGamma)
	for k, c := range s.counts {
		if seen += c; seen >= rank {
			return 2 * math.Exp(float64(s.offset+k)*sketchLogGamma) / (gamma + 1)
		}
	}
	return 2 * math.Exp(float64(s.offset+len(s.counts)-1)*sketchLogGamma) / (gamma + 1)
}

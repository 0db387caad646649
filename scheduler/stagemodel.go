package scheduler

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"baton.dev/baton/bayes"
)

// A stage's latency distribution is modelled by its quantiles at fixed
// levels, one per bin of the uniform draw that picks a latency: nineteen
// bins of 5% up to the 95th percentile, four of 1% up to the 99th, then
// [99%, 99.5%) and [99.5%, 100%), narrower where the end-to-end tail (the
// window-safe percentile, about p98 for p95) is decided. A bin's latency
// is the quantile at its middle.
const (
	bulkBins     = 19
	bulkBinWidth = 0.05
	tailBins     = 4
	tailBinWidth = 0.01
	tailStart    = bulkBins * bulkBinWidth
	upperStart   = tailStart + tailBins*tailBinWidth // 0.99
	upperMiddle  = (upperStart + 1) / 2              // 0.995
	stageLevels  = bulkBins + tailBins + 2
	outLocation  = stageLevels     // the mean of the log quantiles: the lead output
	outCost      = stageLevels + 1 // log mean cost per invocation
	stageOutputs = stageLevels + 2
)

// stageLevel is bin k's quantile level.
func stageLevel(k int) float64 {
	switch {
	case k < bulkBins:
		return (float64(k) + 0.5) * bulkBinWidth
	case k < bulkBins+tailBins:
		return tailStart + (float64(k-bulkBins)+0.5)*tailBinWidth
	case k == bulkBins+tailBins:
		return (upperStart + upperMiddle) / 2
	}
	return (upperMiddle + 1) / 2
}

// stageBin is the bin of a uniform draw u in [0, 1).
func stageBin(u float64) uint8 {
	switch {
	case u < tailStart:
		return uint8(min(bulkBins-1, int(u/bulkBinWidth)))
	case u < upperStart:
		return uint8(bulkBins + min(tailBins-1, int((u-tailStart)/tailBinWidth)))
	case u < upperMiddle:
		return bulkBins + tailBins
	}
	return bulkBins + tailBins + 1
}

// stageSample is what one evaluation says of one stage: where the stage's
// knobs were (log values), the mean log latency, every latency's log less
// that mean (sorted) and the log mean cost.
type stageSample struct {
	z         []float64
	location  float64
	residuals []float64
	logCost   float64
}

// newStageSample summarises a stage's latencies and costs in one
// evaluation at knob values z (log).
func newStageSample(z, latencyMs, costUSD []float64) (stageSample, error) {
	if len(latencyMs) == 0 || len(costUSD) == 0 {
		return stageSample{}, fmt.Errorf("%d latencies and %d costs", len(latencyMs), len(costUSD))
	}
	s := stageSample{z: z, residuals: make([]float64, len(latencyMs))}
	for i, v := range latencyMs {
		if !(v > 0) || math.IsInf(v, 0) {
			return stageSample{}, fmt.Errorf("latency %g ms: want positive and finite", v)
		}
		s.residuals[i] = math.Log(v)
		s.location += s.residuals[i] / float64(len(latencyMs))
	}
	for i := range s.residuals {
		s.residuals[i] -= s.location
	}
	slices.Sort(s.residuals)
	var cost float64
	for _, c := range costUSD {
		cost += c
	}
	cost /= float64(len(costUSD))
	if !(cost > 0) || math.IsInf(cost, 0) {
		return stageSample{}, fmt.Errorf("mean cost %g: want positive and finite", cost)
	}
	s.logCost = math.Log(cost)
	return s, nil
}

// poolSize is how many evaluations, the nearest in the stage's knobs,
// pool their latencies into the shape (the quantiles less the location)
// the model learns at each: one evaluation's hundred latencies place a
// tail quantile within a few percent of rank, which blurs a distribution
// with steps (a high quantile reads the step below it one time in eight,
// and the model then learns a tail too light); five place it within one.
const poolSize = 5

// poolRadius bounds how far, as a share of each knob's (log) range, a
// pooled evaluation may be: farther ones have another shape.
const poolRadius = 0.15

// stageOutputsOf returns the model's outputs at every sample: its own
// location, its pool's quantiles at the levels added to it, the mean of
// those, its log cost. bounds scale the knobs for the nearness of the
// pool; a stage without knobs pools every sample.
func stageOutputsOf(samples []stageSample, bounds []bayes.Interval) [][stageOutputs]float64 {
	out := make([][stageOutputs]float64, len(samples))
	dist := func(a, b []float64) float64 {
		var d float64
		for i, iv := range bounds {
			if w := iv.Hi - iv.Lo; w > 0 {
				t := (a[i] - b[i]) / w
				d += t * t
			}
		}
		return d
	}
	order := make([]int, len(samples))
	d := make([]float64, len(samples))
	var pooled []float64
	for j, s := range samples {
		for i := range order {
			order[i], d[i] = i, dist(samples[i].z, s.z)
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(d[a], d[b]) })
		pool := order[:1] // itself, or one at the same knobs
		for _, i := range order[1:min(poolSize, len(order))] {
			if d[i] <= poolRadius*poolRadius {
				pool = append(pool, i)
			}
		}
		if len(bounds) == 0 {
			pool = order
		}
		// Without knobs every sample is of one distribution: the latencies
		// pool as they are (the locations' noise would blur them).
		at := s.location
		pooled = pooled[:0]
		for _, i := range pool {
			shift := 0.0
			if len(bounds) == 0 {
				shift, at = samples[i].location, 0
			}
			for _, r := range samples[i].residuals {
				pooled = append(pooled, r+shift)
			}
		}
		slices.Sort(pooled)
		var loc float64
		for k := range stageLevels {
			out[j][k] = at + pooled[min(len(pooled)-1, int(stageLevel(k)*float64(len(pooled))))]
			loc += out[j][k] / stageLevels
		}
		out[j][outLocation], out[j][outCost] = loc, s.logCost
	}
	return out
}

// stageModel predicts one stage's latency quantiles and cost from its own
// function's knobs: a GP per output over the knobs (log scale), sharing the
// kernel fitted to the location. A stage without knobs is the mean of its
// samples.
type stageModel struct {
	multi    *bayes.Multi
	pred     *bayes.MultiPredictor
	constant [stageOutputs]float64
}

// fitStageModel fits a stage's samples over knob bounds (log values);
// init warm-starts the hyper-parameters.
func fitStageModel(samples []stageSample, bounds []bayes.Interval, init *bayes.Hyper, restarts int, rng *rand.Rand) (*stageModel, error) {
	if len(samples) == 0 {
		return nil, fmt.Errorf("stage model: no samples")
	}
	m := &stageModel{}
	outs := stageOutputsOf(samples, bounds)
	if len(bounds) == 0 {
		// Every sample pooled: the same quantiles at every one, and the
		// mean of the locations and costs.
		for _, o := range outs {
			for k := range m.constant {
				m.constant[k] += o[k] / float64(len(outs))
			}
		}
		return m, nil
	}
	xs := make([][]float64, len(samples))
	ys := make([][]float64, stageOutputs)
	for i, s := range samples {
		xs[i] = s.z
		for k := range ys {
			ys[k] = append(ys[k], outs[i][k])
		}
	}
	multi, err := bayes.FitMulti(xs, ys, outLocation, bounds, bayes.FitOptions{Restarts: restarts, Init: init}, rng)
	if err != nil {
		return nil, fmt.Errorf("stage model: %w", err)
	}
	m.multi, m.pred = multi, multi.NewPredictor()
	return m, nil
}

// hyper returns the fitted hyper-parameters, nil for a stage without knobs.
func (m *stageModel) hyper() *bayes.Hyper {
	if m.multi == nil {
		return nil
	}
	h := m.multi.Hyper()
	return &h
}

// predict writes the outputs at log knob values z into out and returns
// the posterior variance of the stage's log latency (the location's) and
// of its log cost.
func (m *stageModel) predict(z []float64, out *[stageOutputs]float64) (latVar, costVar float64) {
	if m.multi == nil {
		*out = m.constant
		return 0, 0
	}
	sv := m.pred.Predict(z, out[:])
	sl, sc := m.multi.Scale(outLocation), m.multi.Scale(outCost)
	return sv * sl * sl, sv * sc * sc
}

package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"baton.dev/baton/bayes"
)

// A stage's latency distribution is modelled by its quantiles at fixed
// levels, one per bin of the uniform draw that picks a latency: nineteen
// bins of 5% up to the 95th percentile, then [95%, 99%) and [99%, 100%),
// narrower where the end-to-end tail is decided. A bin's latency is the
// quantile at its middle.
const (
	stageLevels   = 21
	outLocation   = stageLevels     // the mean of the log quantiles: the lead output
	outCost       = stageLevels + 1 // log mean cost per invocation
	stageOutputs  = stageLevels + 2
	bulkBins      = 19
	bulkBinWidth  = 0.05
	upperBinStart = 0.99
)

// stageLevel is bin k's quantile level.
func stageLevel(k int) float64 {
	switch {
	case k < bulkBins:
		return (float64(k) + 0.5) * bulkBinWidth
	case k == bulkBins:
		return (bulkBins*bulkBinWidth + upperBinStart) / 2
	}
	return (upperBinStart + 1) / 2
}

// stageBin is the bin of a uniform draw u in [0, 1).
func stageBin(u float64) uint8 {
	switch {
	case u < bulkBins*bulkBinWidth:
		return uint8(min(bulkBins-1, int(u/bulkBinWidth)))
	case u < upperBinStart:
		return bulkBins
	}
	return bulkBins + 1
}

// stageSample is what one evaluation says of one stage: where the stage's
// knobs were (log values) and its outputs (log quantiles at the levels,
// their mean, log mean cost).
type stageSample struct {
	z []float64
	y [stageOutputs]float64
}

// newStageSample summarises a stage's latencies and costs in one
// evaluation at knob values z (log).
func newStageSample(z, latencyMs, costUSD []float64) (stageSample, error) {
	if len(latencyMs) == 0 || len(costUSD) == 0 {
		return stageSample{}, fmt.Errorf("%d latencies and %d costs", len(latencyMs), len(costUSD))
	}
	s := stageSample{z: z}
	sorted := slices.Sorted(slices.Values(latencyMs))
	var loc float64
	for k := range stageLevels {
		v := sorted[min(len(sorted)-1, int(stageLevel(k)*float64(len(sorted))))]
		if !(v > 0) || math.IsInf(v, 0) {
			return stageSample{}, fmt.Errorf("latency %g ms: want positive and finite", v)
		}
		s.y[k] = math.Log(v)
		loc += s.y[k]
	}
	s.y[outLocation] = loc / stageLevels
	var cost float64
	for _, c := range costUSD {
		cost += c
	}
	cost /= float64(len(costUSD))
	if !(cost > 0) || math.IsInf(cost, 0) {
		return stageSample{}, fmt.Errorf("mean cost %g: want positive and finite", cost)
	}
	s.y[outCost] = math.Log(cost)
	return s, nil
}

// stageModel predicts one stage's latency quantiles and cost from its own
// function's knobs: a GP per output over the knobs (log scale), sharing the
// kernel fitted to the location. A stage without knobs is the mean of its
// samples.
type stageModel struct {
	multi    *bayes.Multi
	pred     *bayes.MultiPredictor
	constant [stageOutputs]float64
	z        []float64 // scratch
}

// fitStageModel fits a stage's samples over knob bounds (log values);
// init warm-starts the hyper-parameters.
func fitStageModel(samples []stageSample, bounds []bayes.Interval, init *bayes.Hyper, restarts int, rng *rand.Rand) (*stageModel, error) {
	if len(samples) == 0 {
		return nil, fmt.Errorf("stage model: no samples")
	}
	m := &stageModel{z: make([]float64, len(bounds))}
	if len(bounds) == 0 {
		for _, s := range samples {
			for k := range m.constant {
				m.constant[k] += s.y[k] / float64(len(samples))
			}
		}
		return m, nil
	}
	xs := make([][]float64, len(samples))
	ys := make([][]float64, stageOutputs)
	for i, s := range samples {
		xs[i] = s.z
		for k := range ys {
			ys[k] = append(ys[k], s.y[k])
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

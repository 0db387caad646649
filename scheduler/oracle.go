package scheduler

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// OracleOptions tune the oracle's discretisation.
type OracleOptions struct {
	// CPUStepMilli is the CPU grid step (default 50m); it doubles until the
	// grid has at most MaxConfigs points.
	CPUStepMilli float64
	// MaxConfigs bounds the grid (default 250,000).
	MaxConfigs int
}

// oracle knows the truth: it enumerates the discretised space (CPU on a
// grid, memory on its steps), orders it by expected cost and returns the
// cheapest configuration whose true latency percentile meets the target.
// It measures nothing; simulation only.
type oracle struct {
	best Config
}

func newOracle(space *Space, target Target, truth Truth, opts OracleOptions) (*oracle, error) {
	step := opts.CPUStepMilli
	if step <= 0 {
		step = 50
	}
	limit := opts.MaxConfigs
	if limit <= 0 {
		limit = 250_000
	}
	var levels [][]float64
	for {
		levels = levels[:0]
		total := 1.0
		for _, k := range space.Knobs {
			var ls []float64
			st := k.Step
			if k.Resource == ResourceCPU {
				st = step
			}
			if st <= 0 {
				st = math.Max(k.Hi-k.Lo, 1)
			}
			for v := k.Lo; v < k.Hi-1e-9; v += st {
				ls = append(ls, v)
			}
			ls = append(ls, k.Hi)
			levels = append(levels, ls)
			total *= float64(len(ls))
		}
		if total <= float64(limit) {
			break
		}
		step *= 2
		if step > 1e7 {
			return nil, fmt.Errorf("oracle: space too large to enumerate")
		}
	}
	type cand struct {
		c    Config
		cost float64
	}
	var cands []cand
	idx := make([]int, len(levels))
	for {
		x := make([]float64, len(levels))
		for i, l := range levels {
			x[i] = l[idx[i]]
		}
		c := space.Config(x)
		cands = append(cands, cand{c, truth.ExpectedCostUSD(c)})
		i := 0
		for ; i < len(idx); i++ {
			idx[i]++
			if idx[i] < len(levels[i]) {
				break
			}
			idx[i] = 0
		}
		if i == len(idx) {
			break
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		switch {
		case a.cost < b.cost:
			return -1
		case a.cost > b.cost:
			return 1
		}
		return 0
	})
	for _, c := range cands {
		if truth.LatencyPercentileMs(c.c, target.Percentile) <= target.LatencyMs {
			return &oracle{best: c.c}, nil
		}
	}
	return &oracle{best: space.Max()}, nil
}

func (p *oracle) Name() string { return PolicyOracle }

// Suggest has nothing to explore: the oracle knows.
func (p *oracle) Suggest(context.Context) (Config, error) { return nil, ErrExplorationDone }

// Observe ignores the evaluation.
func (p *oracle) Observe(context.Context, Config, Observation) error { return nil }

// Best is the cheapest feasible configuration of the grid (or the maximum
// when nothing is feasible).
func (p *oracle) Best(context.Context) (Config, error) { return p.best, nil }

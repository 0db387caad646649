package scheduler

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
)

// OracleOptions tune the oracle's discretisation.
type OracleOptions struct {
	// CPUStepMilli is the CPU grid step (default 50m).
	CPUStepMilli float64
	// MaxChecks bounds how many configurations, cheapest first, have their
	// latency checked before the oracle gives up (default 250,000).
	MaxChecks int
}

// oracle knows the truth: over the discretised space (CPU on a grid,
// memory on its steps) it returns the cheapest configuration whose true
// latency percentile meets the target. It measures nothing; simulation only.
//
// The space of a large workflow (six auto functions: twelve knobs, 10¹⁴
// grid points) cannot be listed, but it need not be: the cost model is a sum
// over functions (each call is billed by its own function's resources and
// time), so configurations come out in increasing cost from each function's
// options sorted by its own cost, best first, and the first one that meets
// the target is the optimum. Only the latency checks cost anything.
type oracle struct {
	name string
	best Config
}

// newWindowSafeOracle is the oracle judged as validation judges: the
// cheapest grid configuration whose windows of windowSize invocations miss
// the target's percentile with probability at most missRate. A window
// misses when more than its share of invocations exceed the latency
// target, so, invocations being independent in the simulator, that holds
// exactly when the true WindowSafePercentile meets the target: the oracle
// for that percentile.
func newWindowSafeOracle(space *Space, target Target, truth Truth, windowSize int, missRate float64, opts OracleOptions) (*oracle, error) {
	safe := Target{LatencyMs: target.LatencyMs, Percentile: WindowSafePercentile(target.Percentile, windowSize, missRate)}
	o, err := newOracle(space, safe, truth, opts)
	if err != nil {
		return nil, fmt.Errorf("window-safe %w", err)
	}
	o.name = PolicyWindowSafeOracle
	return o, nil
}

func newOracle(space *Space, target Target, truth Truth, opts OracleOptions) (*oracle, error) {
	step := opts.CPUStepMilli
	if step <= 0 {
		step = 50
	}
	limit := opts.MaxChecks
	if limit <= 0 {
		limit = 250_000
	}
	lists := functionOptions(space, truth, step)
	next := func(idx []int) Config {
		c := maps.Clone(space.Base)
		for i, l := range lists {
			c[l.function] = l.options[idx[i]].set
		}
		return c
	}
	// Best-first over index vectors: the children of v are v + e_i for i at
	// or after v's last non-zero position, so every vector has one parent
	// and comes out once, and a child never costs less than its parent.
	h := &costHeap{}
	heap.Push(h, costNode{idx: make([]int, len(lists)), cost: sumCost(lists, make([]int, len(lists)))})
	for checks := 0; h.Len() > 0; checks++ {
		if checks == limit {
			return nil, fmt.Errorf("oracle: none of the %d cheapest configurations meets p%g <= %.0f ms", limit, target.Percentile, target.LatencyMs)
		}
		n := heap.Pop(h).(costNode)
		c := next(n.idx)
		if truth.MeetsLatency(c, target.Percentile, target.LatencyMs) {
			return &oracle{name: PolicyOracle, best: c}, nil
		}
		last := 0
		for i, v := range n.idx {
			if v > 0 {
				last = i
			}
		}
		for i := last; i < len(lists); i++ {
			if n.idx[i]+1 >= len(lists[i].options) {
				continue
			}
			child := slices.Clone(n.idx)
			child[i]++
			heap.Push(h, costNode{idx: child, cost: sumCost(lists, child)})
		}
	}
	return &oracle{name: PolicyOracle, best: space.Max()}, nil
}

// functionChoices is one auto function's grid of settings, cheapest first.
type functionChoices struct {
	function string
	options  []option
}

type option struct {
	set  Setting
	cost float64 // the function's share of the expected cost
}

// functionOptions lists every auto function's settings on the grid (CPU
// every step, memory on its steps, both bounds included) with the
// function's own expected cost: the workflow's cost with only that
// function changed from the upper bounds, less the upper bounds' cost (the
// cost model is additive over functions).
func functionOptions(space *Space, truth Truth, cpuStep float64) []functionChoices {
	levels := func(k Knob) []float64 {
		st := k.Step
		if k.Resource == ResourceCPU {
			st = cpuStep
		}
		if st <= 0 {
			st = math.Max(k.Hi-k.Lo, 1)
		}
		var ls []float64
		for v := k.Lo; v < k.Hi-1e-9; v += st {
			ls = append(ls, v)
		}
		return append(ls, k.Hi)
	}
	base := space.Max()
	baseCost := truth.ExpectedCostUSD(base)
	var out []functionChoices
	for _, fn := range space.Functions {
		var cpus, mems []float64
		for _, k := range space.Knobs {
			switch {
			case k.Function != fn:
			case k.Resource == ResourceCPU:
				cpus = levels(k)
			default:
				mems = levels(k)
			}
		}
		if cpus == nil && mems == nil {
			continue // fixed
		}
		cur := base[fn]
		if cpus == nil {
			cpus = []float64{float64(cur.CPUMilli)}
		}
		if mems == nil {
			mems = []float64{float64(cur.MemoryBytes) / MiB}
		}
		fc := functionChoices{function: fn}
		for _, cpu := range cpus {
			for _, mem := range mems {
				set := Setting{CPUMilli: int64(math.Round(cpu)), MemoryBytes: int64(math.Round(mem)) * MiB}
				c := maps.Clone(base)
				c[fn] = set
				fc.options = append(fc.options, option{set: set, cost: truth.ExpectedCostUSD(c) - baseCost})
			}
		}
		slices.SortStableFunc(fc.options, func(a, b option) int { return cmp.Compare(a.cost, b.cost) })
		out = append(out, fc)
	}
	return out
}

func sumCost(lists []functionChoices, idx []int) float64 {
	var s float64
	for i, l := range lists {
		s += l.options[idx[i]].cost
	}
	return s
}

// costNode is a configuration as one option index per function.
type costNode struct {
	idx  []int
	cost float64
}

// costHeap is a min-heap of configurations by cost.
type costHeap []costNode

func (h costHeap) Len() int           { return len(h) }
func (h costHeap) Less(i, j int) bool { return h[i].cost < h[j].cost }
func (h costHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *costHeap) Push(x any)        { *h = append(*h, x.(costNode)) }
func (h *costHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

func (p *oracle) Name() string { return p.name }

// Suggest has nothing to explore: the oracle knows.
func (p *oracle) Suggest(context.Context) (Config, error) { return nil, ErrExplorationDone }

// Observe ignores the evaluation.
func (p *oracle) Observe(context.Context, Config, Observation) error { return nil }

// Best is the cheapest feasible configuration of the grid (or the maximum
// when nothing is feasible).
func (p *oracle) Best(context.Context) (Config, error) { return p.best, nil }

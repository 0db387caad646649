package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"baton.dev/baton/bayes"
	"baton.dev/baton/scheduler/stats"
)

// StagesOptions tune the aquatope-stages policy; zero values take the
// defaults.
type StagesOptions struct {
	// InitialPoints is the size of the initial design, the first point
	// every knob at its maximum, the others a Latin hypercube, CPU in log
	// scale (default: two and a half a knob, at least 8, at most half the
	// budget; each stage is modelled over its own one or two knobs, which
	// every evaluation informs, and a stage's cheap corner the design
	// leaves unmeasured is forecast from its average: on social-compose, 12
	// knobs, 12 points left 1.17x the window-safe oracle's cost, 30 1.05x).
	InitialPoints int
	// WindowSize and WindowMissRate are the window rule the final choice
	// keeps (defaults 100 and 0.01), as aquatope's.
	WindowSize     int
	WindowMissRate float64
	// ExploitShare is the share of the budget, at its end, spent on
	// pure exploitation: each of those evaluations measures the cheapest
	// configuration of the oracle's grid the model finds acceptable as a
	// final choice would be (default 1/6; 1/3 chose the same on
	// social-compose).
	ExploitShare float64
	// Draws is how many invocations the Monte Carlo composition of the
	// stages simulates per forecast while exploring (default 2,000), and
	// FinalDraws for the final choice (default 20,000: a window-safe tail,
	// about p98.6, known within a fraction of a percent).
	Draws, FinalDraws int
}

// withDefaults fills zero fields.
func (o StagesOptions) withDefaults(knobs int) StagesOptions {
	if o.InitialPoints <= 0 {
		o.InitialPoints = max(8, knobs*5/2)
	}
	if o.WindowSize <= 0 {
		o.WindowSize = 100
	}
	if o.WindowMissRate <= 0 {
		o.WindowMissRate = 0.01
	}
	if o.ExploitShare <= 0 {
		o.ExploitShare = 1.0 / 6
	}
	if o.Draws <= 0 {
		o.Draws = 2000
	}
	if o.FinalDraws <= 0 {
		o.FinalDraws = 20000
	}
	return o
}

// aquatopeStages is aquatope's constrained Bayesian optimisation with the
// workflow's structure in its model. Rather than one GP over the joint
// configuration, each stage's latency distribution (its quantiles at fixed
// levels) and cost are modelled over its own function's knobs only, so
// every evaluation informs every stage's model with its per-stage
// latencies and a twelve-knob workflow is six two-knob problems. The
// end-to-end latency is forecast by composing the stages through the DAG
// (Monte Carlo over the stages' distributions, common random numbers:
// the sum along a chain, the max over parallel branches), its uncertainty
// from the stages' posterior variances weighted by their share of the
// critical path near the tail. After a space-filling design, the next
// configuration maximises the expected improvement of cost times the
// probability that the forecast window-safe latency meets the target; the
// last ExploitShare of the budget measures the model's optimum
// (modelOptimum); the final choice is the cheapest
// evaluated configuration expected to miss no more windows than allowed
// (expectedWindowMiss), as aquatope's.
type aquatopeStages struct {
	space    *Space
	target   Target
	budget   int
	opts     StagesOptions
	rng      *rand.Rand
	graph    *graph
	knobs    [][]int            // per stage: its function's knob indexes
	bounds   [][]bayes.Interval // per stage: its knobs' log bounds
	samples  [][]stageSample    // per stage, one per evaluation
	hypers   []*bayes.Hyper     // per stage, to warm-start the next fit
	evals    []stagesEval
	design   [][]float64
	designAt int
	// quantile is the window-safe percentile the final choice judges.
	quantile float64
	// draws and finalDraws are the Monte Carlo invocations' quantile bins,
	// draw-major (draw·stages + stage).
	draws, finalDraws []uint8
}

// stagesEval is one evaluation: where, and the mean cost per invocation
// not attributed to any stage.
type stagesEval struct {
	x           []float64
	config      Config
	overheadUSD float64
}

func newAquatopeStages(space *Space, target Target, budget int, seed uint64, nodes []StageNode, opts StagesOptions) (*aquatopeStages, error) {
	if len(nodes) == 0 {
		return nil, errors.New("new policy: aquatope-stages needs the workflow's stages (PolicyOptions.Graph)")
	}
	g, err := newGraph(nodes)
	if err != nil {
		return nil, fmt.Errorf("new policy: aquatope-stages: %w", err)
	}
	opts = opts.withDefaults(space.Dims())
	rng := rand.New(rand.NewPCG(seed, 0x7374_6167))
	p := &aquatopeStages{space: space, target: target, budget: budget, opts: opts, rng: rng, graph: g,
		knobs: make([][]int, len(g.nodes)), bounds: make([][]bayes.Interval, len(g.nodes)),
		samples: make([][]stageSample, len(g.nodes)), hypers: make([]*bayes.Hyper, len(g.nodes)),
		quantile: WindowSafePercentile(target.Percentile, opts.WindowSize, opts.WindowMissRate)}
	for s, n := range g.nodes {
		if _, ok := space.Base[n.Function]; !ok {
			return nil, fmt.Errorf("new policy: aquatope-stages: stage %q calls %q, not in the space", n.Name, n.Function)
		}
		for i, k := range space.Knobs {
			if k.Function == n.Function {
				p.knobs[s] = append(p.knobs[s], i)
				p.bounds[s] = append(p.bounds[s], bayes.Interval{Lo: math.Log(k.Lo), Hi: math.Log(k.Hi)})
			}
		}
	}
	p.design = [][]float64{space.Point(space.Max())}
	if n := min(opts.InitialPoints, max(2, budget/2)); n > 1 {
		p.design = append(p.design, logCPUDesign(space, n-1, rng)...)
	}
	bins := func(n int) []uint8 {
		out := make([]uint8, n*len(g.nodes))
		for i := range out {
			out[i] = stageBin(rng.Float64())
		}
		return out
	}
	p.draws, p.finalDraws = bins(opts.Draws), bins(opts.FinalDraws)
	return p, nil
}

// logCPUDesign is a Latin hypercube of n points with the CPU knobs spread
// evenly in log scale: a stage's latency changes most at low CPU, where
// the cheap configurations are, and the stage models are fitted in log
// scale.
func logCPUDesign(space *Space, n int, rng *rand.Rand) [][]float64 {
	pts := space.Bayes().LatinHypercube(n, rng)
	for _, x := range pts {
		for i, k := range space.Knobs {
			if k.Resource == ResourceCPU && k.Hi > k.Lo {
				x[i] = k.Lo * math.Pow(k.Hi/k.Lo, (x[i]-k.Lo)/(k.Hi-k.Lo))
			}
		}
	}
	return pts
}

func (p *aquatopeStages) Name() string { return PolicyAquatopeStages }

// Observe records an evaluation of c, which must be broken down by stage.
func (p *aquatopeStages) Observe(ctx context.Context, c Config, o Observation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sum, err := summarise(p.space, c, o, p.target)
	if err != nil {
		return fmt.Errorf("aquatope-stages: %w", err)
	}
	stageSamples := make([]stageSample, len(p.graph.nodes))
	var stageCost float64
	for s, n := range p.graph.nodes {
		lat, cost := o.StageLatencyMs[n.Name], o.StageCostUSD[n.Name]
		if len(lat) == 0 {
			return fmt.Errorf("aquatope-stages: observation without stage %q: it needs every invocation broken down by stage, each stage with its latency and cost", n.Name)
		}
		z := make([]float64, len(p.knobs[s]))
		for j, k := range p.knobs[s] {
			z[j] = math.Log(sum.x[k])
		}
		if stageSamples[s], err = newStageSample(z, lat, cost); err != nil {
			return fmt.Errorf("aquatope-stages: stage %q: %w", n.Name, err)
		}
		stageCost += math.Exp(stageSamples[s].logCost)
	}
	for s := range stageSamples {
		p.samples[s] = append(p.samples[s], stageSamples[s])
	}
	p.evals = append(p.evals, stagesEval{x: sum.x, config: c, overheadUSD: sum.costUSD - stageCost})
	return nil
}

// Suggest returns the next configuration to evaluate: the initial design,
// then the maximiser of the constrained expected improvement, and at the
// end of the budget the model's optimum.
func (p *aquatopeStages) Suggest(ctx context.Context) (Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(p.evals) >= p.budget {
		return nil, ErrExplorationDone
	}
	if p.designAt < len(p.design) {
		p.designAt++
		return p.space.Config(p.design[p.designAt-1]), nil
	}
	f, err := p.fit(1)
	if err != nil {
		return nil, err
	}
	if float64(p.budget-len(p.evals)) <= p.opts.ExploitShare*float64(p.budget) {
		if c, ok := p.modelOptimum(f); ok {
			return c, nil
		}
	}
	logT := math.Log(p.target.LatencyMs)
	best, seeds := math.Inf(1), make([][]float64, 0, len(p.evals))
	for _, e := range p.evals {
		seeds = append(seeds, e.x)
		if fc := f.at(e.x, p.draws); p.acceptable(fc) && fc.logCost < best {
			best = fc.logCost
		}
	}
	maxCost := f.at(p.space.Point(p.space.Max()), p.draws).logCost
	acq := func(x []float64) float64 {
		fc := f.at(x, p.draws)
		pf := bayes.ProbabilityBelow(fc.logLatency, fc.latencySD, logT)
		if math.IsInf(best, 1) {
			return pf * math.Exp(maxCost-fc.logCost)
		}
		return bayes.ExpectedImprovement(fc.logCost, fc.costSD, best) * pf
	}
	x, _ := bayes.Maximize(acq, p.space.Bayes(), bayes.MaximizeOptions{RandomStarts: 256, Refine: 3, Sweeps: 20, Seeds: seeds}, p.rng)
	return p.space.Config(x), nil
}

// modelOptimum returns the cheapest configuration of the oracle's grid
// that the model finds acceptable, searched as the oracle searches the
// truth (cost is additive over functions, so configurations come out
// cheapest first): a local search that keeps the constraint cannot trade
// one stage's slack for another's, and stops at the first configuration
// where every single change breaks it. ok is false when none of the
// cheapest few thousand is acceptable.
func (p *aquatopeStages) modelOptimum(f *forecaster) (Config, bool) {
	o, err := newOracle(p.space, p.target, modelTruth{p: p, f: f}, OracleOptions{MaxChecks: modelOptimumChecks})
	if err != nil {
		return nil, false
	}
	return o.best, true
}

// modelOptimumChecks bounds the configurations modelOptimum forecasts.
const modelOptimumChecks = 5000

// modelTruth is the stage models as the oracle's Truth: costs and
// latencies forecast, a configuration meeting the latency when it is
// acceptable as a final choice.
type modelTruth struct {
	p *aquatopeStages
	f *forecaster
}

func (t modelTruth) ExpectedCostUSD(c Config) float64 {
	return math.Exp(t.f.at(t.p.space.Point(c), t.p.draws).logCost)
}

func (t modelTruth) LatencyPercentileMs(c Config, _ float64) float64 {
	return math.Exp(t.f.at(t.p.space.Point(c), t.p.draws).logLatency)
}

func (t modelTruth) MeetsLatency(c Config, _, _ float64) bool {
	return t.p.acceptable(t.f.at(t.p.space.Point(c), t.p.draws))
}

// Best returns the cheapest evaluated configuration (by forecast cost)
// expected to miss no more windows than allowed, or every knob at its
// maximum when none is.
func (p *aquatopeStages) Best(ctx context.Context) (Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(p.evals) < 2 {
		return p.space.Max(), nil
	}
	f, err := p.fit(3)
	if err != nil {
		return nil, err
	}
	best, bestCost := -1, math.Inf(1)
	for i, e := range p.evals {
		if fc := f.at(e.x, p.finalDraws); p.acceptable(fc) && fc.logCost < bestCost {
			best, bestCost = i, fc.logCost
		}
	}
	if best < 0 {
		return p.space.Max(), nil
	}
	return p.evals[best].config, nil
}

// acceptable reports whether a forecast configuration is expected to miss
// no more windows than allowed.
func (p *aquatopeStages) acceptable(fc forecast) bool {
	d := fc.logLatency - math.Log(p.target.LatencyMs)
	return expectedWindowMiss(p.target.Percentile, p.quantile, p.opts.WindowSize, d, fc.latencySD, fc.kappa) <= p.opts.WindowMissRate
}

// fit fits every stage's model on the evaluations so far.
func (p *aquatopeStages) fit(restarts int) (*forecaster, error) {
	models := make([]*stageModel, len(p.graph.nodes))
	for s := range models {
		m, err := fitStageModel(p.samples[s], p.bounds[s], p.hypers[s], restarts, p.rng)
		if err != nil {
			return nil, fmt.Errorf("aquatope-stages: stage %q: %w", p.graph.nodes[s].Name, err)
		}
		models[s], p.hypers[s] = m, m.hyper()
	}
	var overhead float64
	for _, e := range p.evals {
		overhead += e.overheadUSD / float64(len(p.evals))
	}
	return newForecaster(p.graph, p.knobs, models, math.Max(0, overhead), p.target.Percentile, p.quantile), nil
}

// forecast is what the stage models say of one configuration.
type forecast struct {
	// logLatency is the log of the end-to-end latency at the window-safe
	// percentile and latencySD its posterior standard deviation.
	logLatency, latencySD float64
	// kappa is the tail's slope (aquatope.tailSlope) between the target's
	// percentile and the window-safe one.
	kappa float64
	// logCost is the log mean cost per invocation and costSD its
	// posterior standard deviation.
	logCost, costSD float64
}

// forecaster composes fitted stage models into forecasts. It is not safe
// for concurrent use.
type forecaster struct {
	graph                *graph
	knobs                [][]int
	models               []*stageModel
	overheadUSD          float64
	percentile, quantile float64
	// scratch
	levels                      [][stageLevels]float64
	latVar, costVar, stageCost  []float64
	stageMs, finish, share, e2e []float64
	sorted                      []float64
	out                         [stageOutputs]float64
	z                           [][]float64
}

func newForecaster(g *graph, knobs [][]int, models []*stageModel, overheadUSD, percentile, quantile float64) *forecaster {
	n := len(g.nodes)
	f := &forecaster{graph: g, knobs: knobs, models: models, overheadUSD: overheadUSD, percentile: percentile, quantile: quantile,
		levels: make([][stageLevels]float64, n), latVar: make([]float64, n), costVar: make([]float64, n), stageCost: make([]float64, n),
		stageMs: make([]float64, n), finish: make([]float64, n), share: make([]float64, n), z: make([][]float64, n)}
	for s := range f.z {
		f.z[s] = make([]float64, len(knobs[s]))
	}
	return f
}

// at forecasts configuration x over the Monte Carlo invocations draws.
func (f *forecaster) at(x []float64, draws []uint8) forecast {
	n := len(f.graph.nodes)
	var cost float64
	stageCost, costVar := f.stageCost, f.costVar
	for s, m := range f.models {
		for j, k := range f.knobs[s] {
			f.z[s][j] = math.Log(x[k])
		}
		f.latVar[s], costVar[s] = m.predict(f.z[s], &f.out)
		for k := range stageLevels {
			f.levels[s][k] = math.Exp(f.out[k])
		}
		stageCost[s] = math.Exp(f.out[outCost])
		cost += stageCost[s]
	}
	cost += f.overheadUSD
	var cv float64
	for s := range stageCost {
		w := stageCost[s] / cost
		cv += w * w * costVar[s]
	}
	// The end-to-end latency of every draw, and its two percentiles.
	nd := len(draws) / n
	f.e2e = f.e2e[:0]
	for d := range nd {
		for s := range n {
			f.stageMs[s] = f.levels[s][draws[d*n+s]]
		}
		f.e2e = append(f.e2e, f.graph.endToEnd(f.stageMs, f.finish))
	}
	f.sorted = append(f.sorted[:0], f.e2e...)
	rq, rt := stats.Rank(nd, f.quantile)-1, stats.Rank(nd, f.percentile)-1
	vq := selectRank(f.sorted, rq)
	vt := selectRank(f.sorted[:rq+1], rt)
	// The stages' shares of the critical path over the draws between the
	// two percentiles weigh their uncertainty into the tail's.
	clear(f.share)
	var count float64
	for d, v := range f.e2e {
		if v < vt || v > vq {
			continue
		}
		for s := range n {
			f.stageMs[s] = f.levels[s][draws[d*n+s]]
		}
		f.graph.endToEnd(f.stageMs, f.finish)
		f.graph.critical(f.stageMs, f.finish, f.share)
		count++
	}
	var lv float64
	for s, sh := range f.share {
		w := sh / count
		lv += w * w * f.latVar[s]
	}
	return forecast{
		logLatency: math.Log(vq), latencySD: math.Sqrt(lv),
		kappa:   tailSlopeOver(f.percentile, f.quantile, math.Log(vq/vt)),
		logCost: math.Log(cost), costSD: math.Sqrt(cv),
	}
}

// selectRank returns the k-th smallest of xs (from 0), reordering xs.
func selectRank(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		pivot := xs[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

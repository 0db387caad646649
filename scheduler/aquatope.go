package scheduler

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"baton.dev/baton/bayes"
	"baton.dev/baton/scheduler/stats"
)

// AquatopeOptions tune the aquatope policy; zero values take the defaults.
type AquatopeOptions struct {
	// InitialPoints is the size of the initial design, the first point being
	// every knob at its maximum (default: knobs + 1).
	InitialPoints int
	// ConfidenceSigmas is β in the latency upper confidence bound
	// μ + β·σ of the modelled latency percentile (default 1: 84%
	// one-sided). The percentile modelled is already window-safe (about
	// p98 for p95 over windows of 100), so a wider bound (1.645 before)
	// stacked a second margin: at binding targets it left half the saving
	// on social-compose (1.97x the window-safe oracle's cost, 0.5% of
	// windows missed; at 1, 1.60x and 0.6% over 10 seeds).
	ConfidenceSigmas float64
	// WindowSize is the number of invocations over which the QoS percentile
	// is judged in production (default 100).
	WindowSize int
	// WindowMissRate is the share of such windows allowed to miss the
	// target (default 0.01). With WindowSize it sets the latency percentile
	// aquatope models (WindowSafePercentile).
	WindowMissRate float64
	// WideMargin skips candidates whose latency lower confidence bound
	// μ − σ exceeds the target by this share (default 0.2).
	WideMargin float64
	// OutlierSigmas flags a sample outside its leave-one-out interval by
	// more than this many standard deviations (default 3.5).
	OutlierSigmas float64
	// StopImprovement ends exploration when the best constrained expected
	// improvement of log cost falls below it (default 0.002, i.e. 0.2%).
	StopImprovement float64
	// MinSteps is how many optimisation steps follow the initial design
	// before the stopping rule may apply (default 5).
	MinSteps int
}

// withDefaults fills zero fields for d knobs.
func (o AquatopeOptions) withDefaults(d int) AquatopeOptions {
	if o.InitialPoints <= 0 {
		o.InitialPoints = d + 1
	}
	if o.ConfidenceSigmas <= 0 {
		o.ConfidenceSigmas = 1
	}
	if o.WindowSize <= 0 {
		o.WindowSize = 100
	}
	if o.WindowMissRate <= 0 {
		o.WindowMissRate = 0.01
	}
	if o.WideMargin <= 0 {
		o.WideMargin = 0.2
	}
	if o.OutlierSigmas <= 0 {
		o.OutlierSigmas = 3.5
	}
	if o.StopImprovement <= 0 {
		o.StopImprovement = 0.002
	}
	if o.MinSteps <= 0 {
		o.MinSteps = 5
	}
	return o
}

// sampleState is what aquatope makes of one evaluation.
type sampleState int

const (
	trusted sampleState = iota
	suspect             // outside its leave-one-out interval, awaiting re-measurement
	dropped             // re-measurement disagreed with it
)

// aquatopeSample is one evaluation with its fate.
type aquatopeSample struct {
	summary
	state      sampleState
	remeasured bool
	looMean    float64 // log latency predicted without it, when flagged
	looSD      float64
}

// aquatope is constrained, noise-aware Bayesian optimisation (after
// Aquatope, ASPLOS'23). Two GPs with learned noise model the log mean cost
// and the log of the window-safe latency percentile of an evaluation (the
// percentile that keeps windows' QoS misses rare, WindowSafePercentile); the
// next configuration maximises the expected improvement of cost times the
// probability that this latency meets the target, with the incumbent taken from the
// posterior mean at observed points that meet it with high probability.
// Candidates predicted to break the target by a wide margin are never
// tried, and a sample far outside its leave-one-out interval is re-measured
// before it is trusted or dropped. The final choice meets the target on an
// upper confidence bound of latency.
type aquatope struct {
	space     *Space
	target    Target
	budget    int
	opts      AquatopeOptions
	rng       *rand.Rand
	samples   []aquatopeSample
	design    [][]float64
	designAt  int
	pending   int // index of the sample awaiting re-measurement, or −1
	costHyper *bayes.Hyper
	latHyper  *bayes.Hyper
	// quantile is the latency percentile modelled (window-safe).
	quantile float64
}

func newAquatope(space *Space, target Target, budget int, seed uint64, opts AquatopeOptions) *aquatope {
	opts = opts.withDefaults(space.Dims())
	rng := rand.New(rand.NewPCG(seed, 0x6171_7561))
	design := [][]float64{space.Point(space.Max())}
	if opts.InitialPoints > 1 {
		design = append(design, space.Bayes().LatinHypercube(opts.InitialPoints-1, rng)...)
	}
	return &aquatope{space: space, target: target, budget: budget, opts: opts, rng: rng, design: design, pending: -1,
		quantile: WindowSafePercentile(target.Percentile, opts.WindowSize, opts.WindowMissRate)}
}

func (p *aquatope) Name() string { return PolicyAquatope }

// models are the fitted surrogates with what acquisition needs from them.
type models struct {
	cost, lat   *bayes.GP
	logTarget   float64 // log of the latency target
	idx         []int   // sample index of each training row
	costP, latP *bayes.Predictor
}

// fit fits both surrogates on the trusted samples.
func (p *aquatope) fit(restarts int) (*models, error) {
	var xs [][]float64
	var lc, ll []float64
	var idx []int
	for i, s := range p.samples {
		if s.state != trusted {
			continue
		}
		xs = append(xs, s.x)
		lc = append(lc, math.Log(s.costUSD))
		ll = append(ll, math.Log(s.latencyMs))
		idx = append(idx, i)
	}
	bounds := p.space.Bayes().Bounds()
	cost, err := bayes.Fit(xs, lc, bounds, bayes.FitOptions{Restarts: restarts, Init: p.costHyper}, p.rng)
	if err != nil {
		return nil, fmt.Errorf("aquatope: cost model: %w", err)
	}
	lat, err := bayes.Fit(xs, ll, bounds, bayes.FitOptions{Restarts: restarts, Init: p.latHyper}, p.rng)
	if err != nil {
		return nil, fmt.Errorf("aquatope: latency model: %w", err)
	}
	ch, lh := cost.Hyper(), lat.Hyper()
	p.costHyper, p.latHyper = &ch, &lh
	logT := math.Log(p.target.LatencyMs)
	return &models{
		cost: cost, lat: lat, idx: idx,
		logTarget: logT,
		costP:     cost.NewPredictor(), latP: lat.NewPredictor(),
	}, nil
}

// restarts is how many optimiser starts the next fit gets: three while
// data are few (under 30 evaluations), two every tenth evaluation after
// that, otherwise a warm start from the previous fit only.
func (p *aquatope) restarts() int {
	switch n := len(p.samples); {
	case n < 30:
		return 3
	case n%10 == 0:
		return 2
	}
	return 1
}

// safeUCB reports whether x meets the target on the upper confidence bound.
func (p *aquatope) safeUCB(m *models, x []float64) bool {
	mu, v := m.latP.Predict(x)
	return mu+p.opts.ConfidenceSigmas*math.Sqrt(v) <= m.logTarget
}

// wideMiss reports whether x is predicted to break the target by a wide margin.
func (p *aquatope) wideMiss(m *models, x []float64) bool {
	mu, v := m.latP.Predict(x)
	return mu-math.Sqrt(v) > m.logTarget+math.Log1p(p.opts.WideMargin)
}

// Suggest returns the next configuration to evaluate.
func (p *aquatope) Suggest(ctx context.Context) (Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(p.samples) >= p.budget {
		return nil, ErrExplorationDone
	}
	if p.pending >= 0 {
		return p.samples[p.pending].config, nil
	}
	var m *models
	if p.trustedCount() >= 3 {
		var err error
		if m, err = p.fit(p.restarts()); err != nil {
			return nil, err
		}
	}
	for p.designAt < len(p.design) {
		x := p.design[p.designAt]
		p.designAt++
		if m == nil || !p.wideMiss(m, x) {
			return p.space.Config(x), nil
		}
	}
	if m == nil { // every design point was consumed without a model: cannot happen with ≥ 3 points
		return p.space.Config(p.space.Bayes().Sample(p.rng)), nil
	}
	if c, ok, err := p.checkOutliers(m); err != nil || ok {
		return c, err
	}
	x, acq := p.maximise(m)
	steps := len(p.samples) - len(p.design)
	if steps >= p.opts.MinSteps && acq < p.opts.StopImprovement {
		return nil, ErrExplorationDone
	}
	return p.space.Config(x), nil
}

// trustedCount counts the trusted samples.
func (p *aquatope) trustedCount() int {
	n := 0
	for _, s := range p.samples {
		if s.state == trusted {
			n++
		}
	}
	return n
}

// checkOutliers flags the worst trusted, not yet re-measured latency sample
// outside its leave-one-out interval and asks for its re-measurement. The
// residuals are scaled robustly (1.4826 × their median absolute value, kept
// in [0.5, 1]) because an outlier inflates the fitted noise and would
// otherwise mask itself.
func (p *aquatope) checkOutliers(m *models) (Config, bool, error) {
	if len(m.idx) < 6 {
		return nil, false, nil
	}
	mean, variance, err := m.lat.LeaveOneOut()
	if err != nil {
		return nil, false, fmt.Errorf("aquatope: outlier check: %w", err)
	}
	z := make([]float64, len(m.idx))
	abs := make([]float64, len(m.idx))
	for row, i := range m.idx {
		z[row] = (math.Log(p.samples[i].latencyMs) - mean[row]) / math.Sqrt(variance[row])
		abs[row] = math.Abs(z[row])
	}
	scale := math.Max(0.5, math.Min(1, 1.4826*medianOf(abs)))
	worst, worstZ := -1, p.opts.OutlierSigmas
	for row, i := range m.idx {
		if p.samples[i].remeasured {
			continue
		}
		if a := abs[row] / scale; a > worstZ {
			worst, worstZ = row, a
		}
	}
	if worst < 0 {
		return nil, false, nil
	}
	i := m.idx[worst]
	p.samples[i].state = suspect
	p.samples[i].looMean, p.samples[i].looSD = mean[worst], scale*math.Sqrt(variance[worst])
	p.pending = i
	return p.samples[i].config, true, nil
}

// medianOf returns the median of xs (reordering a copy).
func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// maximise returns the point of largest constrained expected improvement
// and that value (the probability of feasibility while nothing observed is
// safe, in which case the value reported is +Inf so exploration goes on).
func (p *aquatope) maximise(m *models) ([]float64, float64) {
	best, seeds := math.Inf(1), [][]float64(nil)
	for _, i := range m.idx {
		x := p.samples[i].x
		if p.safeUCB(m, x) {
			if mu, _ := m.costP.Predict(x); mu < best {
				best = mu
			}
			seeds = append(seeds, x)
		}
	}
	haveIncumbent := !math.IsInf(best, 1)
	acq := func(x []float64) float64 {
		if p.wideMiss(m, x) {
			return math.Inf(-1)
		}
		ml, vl := m.latP.Predict(x)
		pf := bayes.ProbabilityBelow(ml, math.Sqrt(vl), m.logTarget)
		if !haveIncumbent {
			return pf
		}
		mc, vc := m.costP.Predict(x)
		return bayes.ExpectedImprovement(mc, math.Sqrt(vc), best) * pf
	}
	x, v := bayes.Maximize(acq, p.space.Bayes(), bayes.MaximizeOptions{RandomStarts: 512, Refine: 3, Sweeps: 25, Seeds: seeds}, p.rng)
	if math.IsInf(v, -1) {
		// Everything scored looks far too slow: fall back to the safest corner.
		return p.space.Point(p.space.Max()), math.Inf(1)
	}
	if !haveIncumbent {
		return x, math.Inf(1)
	}
	return x, v
}

// Observe records an evaluation; a re-measurement settles its suspect.
func (p *aquatope) Observe(ctx context.Context, c Config, o Observation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := summarise(p.space, c, o, p.target)
	if err != nil {
		return fmt.Errorf("aquatope: %w", err)
	}
	s.latencyMs = stats.Percentile(o.LatencyMs, p.quantile)
	sample := aquatopeSample{summary: s}
	if p.pending >= 0 && p.space.Key(p.samples[p.pending].config) == p.space.Key(c) {
		old := &p.samples[p.pending]
		old.remeasured, sample.remeasured = true, true
		if math.Abs(math.Log(s.latencyMs)-old.looMean) <= p.opts.OutlierSigmas*old.looSD {
			old.state = dropped // the new sample agrees with the model: the old one was bad
		} else {
			old.state = trusted // confirmed: the surprise is real
		}
		p.pending = -1
	}
	p.samples = append(p.samples, sample)
	return nil
}

// Best returns the cheapest evaluated configuration (by posterior mean
// cost) that meets the target on the latency upper confidence bound, or
// every knob at its maximum when none does.
func (p *aquatope) Best(ctx context.Context) (Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.trustedCount() < 2 {
		return p.space.Max(), nil
	}
	m, err := p.fit(3)
	if err != nil {
		return nil, err
	}
	best, bestCost := -1, math.Inf(1)
	for _, i := range m.idx {
		x := p.samples[i].x
		if !p.safeUCB(m, x) {
			continue
		}
		if mu, _ := m.costP.Predict(x); mu < bestCost {
			best, bestCost = i, mu
		}
	}
	if best < 0 {
		return p.space.Max(), nil
	}
	return p.samples[best].config, nil
}

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
	// windows missed; at 1, 1.60x and 0.6% over 10 seeds). It sets which
	// evaluated configurations count as the incumbent while exploring, and
	// the final choice only with FinalOnUCB.
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
	// FinalOnUCB makes the final choice the cheapest evaluated
	// configuration meeting the target on the latency upper confidence
	// bound, as before expectedMiss (default false: the cheapest whose
	// expected share of missed windows, over the latency posterior, is
	// within WindowMissRate).
	FinalOnUCB bool
	// KeepOutliers keeps in the final choice's fit the samples outside
	// their leave-one-out interval that exploration left no budget to
	// re-measure (default false: they are left out).
	KeepOutliers bool
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
	// targetPctMs is the latency at the target's own percentile (the
	// summary's latencyMs is the window-safe one), for the tail's slope.
	targetPctMs float64
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
// before it is trusted or dropped. The final choice is the cheapest
// evaluated configuration expected, over the latency posterior, to miss no
// more windows than allowed (expectedMiss), its fit leaving out the
// outliers exploration had no budget left to re-measure.
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
	return p.fitWithout(restarts, nil)
}

// fitWithout fits both surrogates on the trusted samples but those in skip.
func (p *aquatope) fitWithout(restarts int, skip map[int]bool) (*models, error) {
	var xs [][]float64
	var lc, ll []float64
	var idx []int
	for i, s := range p.samples {
		if s.state != trusted || skip[i] {
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
// outside its leave-one-out interval and asks for its re-measurement.
func (p *aquatope) checkOutliers(m *models) (Config, bool, error) {
	out, err := p.outliers(m)
	if err != nil || len(out) == 0 {
		return nil, false, err
	}
	worst := out[0]
	for _, o := range out[1:] {
		if o.score > worst.score {
			worst = o
		}
	}
	i := worst.sample
	p.samples[i].state = suspect
	p.samples[i].looMean, p.samples[i].looSD = worst.looMean, worst.looSD
	p.pending = i
	return p.samples[i].config, true, nil
}

// outlier is a trusted sample outside its leave-one-out interval.
type outlier struct {
	sample         int
	score          float64 // |residual| in robustly scaled standard deviations
	looMean, looSD float64
}

// outliers returns the trusted, not yet re-measured latency samples outside
// their leave-one-out interval by more than OutlierSigmas (none with fewer
// than six samples). The residuals are scaled robustly (1.4826 × their
// median absolute value, kept in [0.5, 1]) because an outlier inflates the
// fitted noise and would otherwise mask itself.
func (p *aquatope) outliers(m *models) ([]outlier, error) {
	if len(m.idx) < 6 {
		return nil, nil
	}
	mean, variance, err := m.lat.LeaveOneOut()
	if err != nil {
		return nil, fmt.Errorf("aquatope: outlier check: %w", err)
	}
	abs := make([]float64, len(m.idx))
	for row, i := range m.idx {
		abs[row] = math.Abs(math.Log(p.samples[i].latencyMs)-mean[row]) / math.Sqrt(variance[row])
	}
	scale := math.Max(0.5, math.Min(1, 1.4826*medianOf(abs)))
	var out []outlier
	for row, i := range m.idx {
		if a := abs[row] / scale; !p.samples[i].remeasured && a > p.opts.OutlierSigmas {
			out = append(out, outlier{sample: i, score: a, looMean: mean[row], looSD: scale * math.Sqrt(variance[row])})
		}
	}
	return out, nil
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
	targetPct := s.latencyMs
	s.latencyMs = stats.Percentile(o.LatencyMs, p.quantile)
	sample := aquatopeSample{summary: s, targetPctMs: targetPct}
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
// cost) that is acceptable (expected to miss no more windows than allowed,
// or with FinalOnUCB meeting the target on the latency upper confidence
// bound), or every knob at its maximum when none is.
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
	// A sample outside its leave-one-out interval that exploration had no
	// budget left to re-measure is left out: the window-safe percentile of
	// one evaluation has a long lower tail (a batch where the rare slow
	// invocations happen not to come), and a choice resting on one such
	// lucky measurement is the likeliest to miss windows.
	if !p.opts.KeepOutliers {
		out, err := p.outliers(m)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 {
			skip := map[int]bool{}
			for _, o := range out {
				skip[o.sample] = true
			}
			if m, err = p.fitWithout(3, skip); err != nil {
				return nil, err
			}
		}
	}
	kappa := p.tailSlope()
	best, bestCost := -1, math.Inf(1)
	for _, i := range m.idx {
		x := p.samples[i].x
		if !p.acceptable(m, x, kappa) {
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

// acceptable reports whether x may be the final choice: whether the share
// of windows it is expected to miss, over the latency posterior, is within
// WindowMissRate (with FinalOnUCB, whether it meets the target on the
// upper confidence bound).
//
// The window-safe percentile modelled already carries the window rule: a
// configuration exactly on the target misses WindowMissRate of windows. A
// further 1σ margin (the upper confidence bound) stacks a second one; on
// the binding targets of the samples, where the configurations that meet
// the QoS lie within 0–2% of the target and one evaluation measures their
// window-safe percentile to 2–8%, it rejects most of them. The expected
// miss rate keeps the margin the posterior's uncertainty calls for, no
// more: the miss rate is convex in latency, so a wide posterior still needs
// its mean well below the target.
func (p *aquatope) acceptable(m *models, x []float64, kappa float64) bool {
	if p.opts.FinalOnUCB {
		return p.safeUCB(m, x)
	}
	mu, v := m.latP.Predict(x)
	return p.expectedMiss(mu-m.logTarget, math.Sqrt(v), kappa) <= p.opts.WindowMissRate
}

// tailSlope estimates κ, the slope of the log exceedance probability in
// log latency near the modelled percentile: a latency threshold higher by
// a share d is exceeded about e^(−κd) times as often. It compares the two
// percentiles every trusted evaluation measured, the target's and the
// window-safe one, whose exceedance probabilities are known, taking the
// median log ratio over evaluations (floored at 0.1%: where both fall on
// one value, the tail is taken as a near-step).
func (p *aquatope) tailSlope() float64 {
	var r []float64
	for _, s := range p.samples {
		if s.state == trusted {
			r = append(r, math.Log(s.latencyMs/s.targetPctMs))
		}
	}
	var gap float64
	if len(r) > 0 {
		gap = medianOf(r)
	}
	return tailSlopeOver(p.target.Percentile, p.quantile, gap)
}

// expectedMiss is the expected share of windows missed by a configuration
// whose log window-safe latency, less the log target, is d ~ N(mean, sd²)
// (expectedWindowMiss).
func (p *aquatope) expectedMiss(mean, sd, kappa float64) float64 {
	return expectedWindowMiss(p.target.Percentile, p.quantile, p.opts.WindowSize, mean, sd, kappa)
}

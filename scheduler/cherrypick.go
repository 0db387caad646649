package scheduler

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"baton.dev/baton/bayes"
)

// CherryPick's published settings: three initial points, stop when the
// expected improvement falls below 10% once six points are measured.
const (
	cherryPickInitial  = 3
	cherryPickMinPoint = 6
	cherryPickStopEI   = 0.1
)

// cherryPick is the CherryPick baseline (NSDI'17): one GP over a penalised
// cost — cost when the measured percentile met the target, otherwise cost ×
// (2 + 10 × relative excess) — with plain expected improvement from the
// best raw sample; no constraint model, no noise or outlier handling. Its
// final choice is the cheapest sample that met the target as measured.
type cherryPick struct {
	space  *Space
	target Target
	budget int
	rng    *rand.Rand
	obs    []summary
	design [][]float64
	hyper  *bayes.Hyper
}

func newCherryPick(space *Space, target Target, budget int, seed uint64) *cherryPick {
	rng := rand.New(rand.NewPCG(seed, 0x6368_6572))
	return &cherryPick{space: space, target: target, budget: budget, rng: rng,
		design: space.Bayes().LatinHypercube(cherryPickInitial, rng)}
}

func (p *cherryPick) Name() string { return PolicyCherryPick }

// penalised is the objective CherryPick minimises, in log.
func (p *cherryPick) penalised(s summary) float64 {
	v := s.costUSD
	if excess := s.latencyMs/p.target.LatencyMs - 1; excess > 0 {
		v *= 2 + 10*excess
	}
	return math.Log(v)
}

// Suggest returns the next configuration to evaluate.
func (p *cherryPick) Suggest(ctx context.Context) (Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(p.obs) >= p.budget {
		return nil, ErrExplorationDone
	}
	if len(p.obs) < len(p.design) {
		return p.space.Config(p.design[len(p.obs)]), nil
	}
	xs := make([][]float64, len(p.obs))
	ys := make([]float64, len(p.obs))
	best := math.Inf(1)
	for i, o := range p.obs {
		xs[i], ys[i] = o.x, p.penalised(o)
		best = math.Min(best, ys[i])
	}
	g, err := bayes.Fit(xs, ys, p.space.Bayes().Bounds(), bayes.FitOptions{Restarts: 3, Init: p.hyper}, p.rng)
	if err != nil {
		return nil, fmt.Errorf("cherrypick: %w", err)
	}
	h := g.Hyper()
	p.hyper = &h
	pr := g.NewPredictor()
	x, ei := bayes.Maximize(func(x []float64) float64 {
		m, v := pr.Predict(x)
		return bayes.ExpectedImprovement(m, math.Sqrt(v), best)
	}, p.space.Bayes(), bayes.MaximizeOptions{RandomStarts: 512, Refine: 3, Sweeps: 25}, p.rng)
	if len(p.obs) >= cherryPickMinPoint && ei < cherryPickStopEI {
		return nil, ErrExplorationDone
	}
	return p.space.Config(x), nil
}

// Observe records the evaluation.
func (p *cherryPick) Observe(ctx context.Context, c Config, o Observation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := summarise(p.space, c, o, p.target)
	if err != nil {
		return fmt.Errorf("cherrypick: %w", err)
	}
	p.obs = append(p.obs, s)
	return nil
}

// Best is the cheapest sample whose measured percentile met the target, or
// every knob at its maximum when none did.
func (p *cherryPick) Best(context.Context) (Config, error) {
	if c, ok := cheapestMeetingTarget(p.obs, p.target); ok {
		return c, nil
	}
	return p.space.Max(), nil
}

package scheduler

import (
	"context"
	"math/rand/v2"
)

// randomSearch evaluates uniformly random configurations until its budget
// is spent and keeps the cheapest whose measured percentile met the target.
type randomSearch struct {
	space  *Space
	target Target
	budget int
	rng    *rand.Rand
	obs    []summary
}

func newRandomSearch(space *Space, target Target, budget int, seed uint64) *randomSearch {
	return &randomSearch{space: space, target: target, budget: budget, rng: rand.New(rand.NewPCG(seed, 0x7261_6e64))}
}

func (p *randomSearch) Name() string { return PolicyRandom }

// Suggest draws a uniform configuration.
func (p *randomSearch) Suggest(ctx context.Context) (Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(p.obs) >= p.budget {
		return nil, ErrExplorationDone
	}
	return p.space.Config(p.space.Bayes().Sample(p.rng)), nil
}

// Observe records the evaluation.
func (p *randomSearch) Observe(_ context.Context, c Config, o Observation) error {
	s, err := summarise(p.space, c, o, p.target)
	if err != nil {
		return err
	}
	p.obs = append(p.obs, s)
	return nil
}

// Best is the cheapest measured configuration that met the target, or
// every knob at its maximum when none did.
func (p *randomSearch) Best(context.Context) (Config, error) {
	if c, ok := cheapestMeetingTarget(p.obs, p.target); ok {
		return c, nil
	}
	return p.space.Max(), nil
}

package scheduler

import "context"

// staticPolicy always runs one configuration and measures nothing:
// static-max (every knob at its upper bound) or static-default.
type staticPolicy struct {
	name   string
	config Config
}

func (p *staticPolicy) Name() string { return p.name }

// Suggest has nothing to explore.
func (p *staticPolicy) Suggest(context.Context) (Config, error) { return nil, ErrExplorationDone }

// Observe ignores the evaluation.
func (p *staticPolicy) Observe(context.Context, Config, Observation) error { return nil }

// Best returns the fixed configuration.
func (p *staticPolicy) Best(context.Context) (Config, error) { return p.config, nil }

// Fixed is a policy that measures nothing and always chooses c, under
// name: a choice made elsewhere (an oracle's, searched once) run as a policy.
func Fixed(name string, c Config) ResourcePolicy { return &staticPolicy{name: name, config: c} }

// Default static setting: one vCPU and 512 MiB a function.
const (
	defaultCPUMilli  = 1000
	defaultMemoryMiB = 512
)

// defaultConfig puts every auto knob at 1 vCPU / 512 MiB, clamped into its bounds.
func defaultConfig(s *Space) Config {
	x := make([]float64, len(s.Knobs))
	for i, k := range s.Knobs {
		if k.Resource == ResourceCPU {
			x[i] = defaultCPUMilli
		} else {
			x[i] = defaultMemoryMiB
		}
	}
	return s.Config(x)
}

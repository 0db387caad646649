package sim

import (
	"fmt"
	"math/rand/v2"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/scheduler/stats"
	"baton.dev/baton/workflow"
)

// truthSamples is how many invocations Truth's percentiles are computed
// over, with a fixed seed so they are the same for every caller: enough
// that a window-safe tail (about p98) is known within a fraction of a
// percent (at 4,000 the binding targets' checks missed 1.8-1.9% of windows
// where 1% was meant).
const truthSamples = 20000

// truthSeed seeds Truth's fixed sample.
const truthSeed = 0x5eed_7a07

// simStage is a stage as the simulator runs it.
type simStage struct {
	name     string
	function string
	needs    []int // indexes into Simulator.stages
	items    int
	model    *stageModel
}

// Simulator runs a workflow's invocations from its profile. It is immutable
// and safe for concurrent use; randomness comes from the caller's generator.
type Simulator struct {
	workflow string
	stages   []simStage // topological order
	prices   scheduler.Prices
}

// New builds a simulator for w from its profile p.
func New(w *workflow.Workflow, p *profile.Profile, prices scheduler.Prices) (*Simulator, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	order, err := topological(w)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	s := &Simulator{workflow: w.Metadata.Name, prices: prices}
	index := map[string]int{}
	for _, st := range order {
		ps := p.Stage(st.Name)
		if ps == nil {
			return nil, fmt.Errorf("simulator: profile %q has no stage %q", p.Workflow, st.Name)
		}
		m, err := newStageModel(p.Grid, ps)
		if err != nil {
			return nil, fmt.Errorf("simulator: %w", err)
		}
		ss := simStage{name: st.Name, function: st.Function, items: ps.Items, model: m}
		for _, n := range st.Needs {
			ss.needs = append(ss.needs, index[n])
		}
		index[st.Name] = len(s.stages)
		s.stages = append(s.stages, ss)
	}
	return s, nil
}

// topological orders w's stages so that every stage follows its needs.
func topological(w *workflow.Workflow) ([]*workflow.Stage, error) {
	done := map[string]bool{}
	var out []*workflow.Stage
	for len(out) < len(w.Spec.Stages) {
		progress := false
		for _, st := range w.Spec.Stages {
			if done[st.Name] {
				continue
			}
			ready := true
			for _, n := range st.Needs {
				if !done[n] {
					ready = false
					break
				}
			}
			if ready {
				done[st.Name] = true
				out = append(out, st)
				progress = true
			}
		}
		if !progress {
			return nil, fmt.Errorf("workflow %q: stages form a cycle or need unknown stages", w.Metadata.Name)
		}
	}
	return out, nil
}

// setting returns the function's setting as the model's (millicores, MiB).
func setting(c scheduler.Config, fn string) (scheduler.Setting, float64, float64) {
	s := c[fn]
	return s, float64(s.CPUMilli), float64(s.MemoryBytes) / scheduler.MiB
}

// invoke runs one invocation: every call's latency is an empirical quantile
// drawn with u(), a foreach stage's calls run in parallel (the stage takes
// its slowest call), and the end-to-end latency is the critical path.
// Stage i starts delayMs[i] after its needs are done (a cold start; nil:
// every sandbox warm).
func (s *Simulator) invoke(c scheduler.Config, u func() float64, finish, delayMs []float64) (latencyMs, costUSD float64) {
	for i, st := range s.stages {
		set, cpu, mem := setting(c, st.function)
		var stageMs float64
		for k := 0; k < st.items; k++ {
			ms := st.model.sample(cpu, mem, u())
			costUSD += s.prices.CallUSD(set, ms)
			stageMs = max(stageMs, ms)
		}
		var start float64
		for _, n := range st.needs {
			start = max(start, finish[n])
		}
		if delayMs != nil {
			start += delayMs[i]
		}
		finish[i] = start + stageMs
		latencyMs = max(latencyMs, finish[i])
	}
	return latencyMs, costUSD
}

// Run evaluates c over n invocations.
func (s *Simulator) Run(c scheduler.Config, n int, rng *rand.Rand) scheduler.Observation {
	o := scheduler.Observation{LatencyMs: make([]float64, n), CostUSD: make([]float64, n)}
	finish := make([]float64, len(s.stages))
	for i := 0; i < n; i++ {
		o.LatencyMs[i], o.CostUSD[i] = s.invoke(c, rng.Float64, finish, nil)
	}
	return o
}

// ExpectedCostUSD is the mean cost of one invocation under c (Truth).
func (s *Simulator) ExpectedCostUSD(c scheduler.Config) float64 {
	var cost float64
	for _, st := range s.stages {
		set, cpu, mem := setting(c, st.function)
		cost += float64(st.items) * s.prices.CallUSD(set, st.model.mean(cpu, mem))
	}
	return cost
}

// LatencyPercentileMs is the p-th percentile of end-to-end latency under c
// over a fixed sample of invocations (Truth): the same for every caller.
func (s *Simulator) LatencyPercentileMs(c scheduler.Config, p float64) float64 {
	rng := rand.New(rand.NewPCG(truthSeed, 0))
	return stats.Percentile(s.Run(c, truthSamples, rng).LatencyMs, p)
}

// MeetsLatency reports whether the p-th percentile of c's latency over
// Truth's fixed sample is within limitMs, as LatencyPercentileMs would
// say, stopping as soon as more invocations exceed it than the percentile
// allows: an oracle's search checks mostly configurations far too slow.
func (s *Simulator) MeetsLatency(c scheduler.Config, p, limitMs float64) bool {
	rng := rand.New(rand.NewPCG(truthSeed, 0))
	allowed := truthSamples - stats.Rank(truthSamples, p)
	finish := make([]float64, len(s.stages))
	over := 0
	for range truthSamples {
		if l, _ := s.invoke(c, rng.Float64, finish, nil); l > limitMs {
			if over++; over > allowed {
				return false
			}
		}
	}
	return true
}

// Stages returns the number of stages.
func (s *Simulator) Stages() int { return len(s.stages) }

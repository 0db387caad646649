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
	order, err := scheduler.GraphOf(w)
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

// setting returns the function's setting as the model's (millicores, MiB).
func setting(c scheduler.Config, fn string) (scheduler.Setting, float64, float64) {
	s := c[fn]
	return s, float64(s.CPUMilli), float64(s.MemoryBytes) / scheduler.MiB
}

// invocation is the scratch of invocations of one configuration: every
// stage's setting and place on its profile's grid, found once, and of the
// last invocation every stage's end, latency and cost.
type invocation struct {
	sets                      []scheduler.Setting
	cells                     []cell
	finish, stageMs, stageUSD []float64
}

// newInvocation returns scratch for s's invocations under c.
func (s *Simulator) newInvocation(c scheduler.Config) *invocation {
	n := len(s.stages)
	inv := &invocation{sets: make([]scheduler.Setting, n), cells: make([]cell, n),
		finish: make([]float64, n), stageMs: make([]float64, n), stageUSD: make([]float64, n)}
	for i, st := range s.stages {
		set, cpu, mem := setting(c, st.function)
		inv.sets[i], inv.cells[i] = set, st.model.cellOf(cpu, mem)
	}
	return inv
}

// invoke runs one invocation: every call's latency is an empirical quantile
// drawn with u(), a foreach stage's calls run in parallel (the stage takes
// its slowest call), and the end-to-end latency is the critical path.
// Stage i starts delayMs[i] after its needs are done (a cold start; nil:
// every sandbox warm), and its latency in inv counts that delay.
func (s *Simulator) invoke(u func() float64, inv *invocation, delayMs []float64) (latencyMs, costUSD float64) {
	for i, st := range s.stages {
		var stageMs, stageUSD float64
		for k := 0; k < st.items; k++ {
			ms := st.model.sampleAt(inv.cells[i], u())
			stageUSD += s.prices.CallUSD(inv.sets[i], ms)
			stageMs = max(stageMs, ms)
		}
		if delayMs != nil {
			stageMs += delayMs[i]
		}
		var start float64
		for _, n := range st.needs {
			start = max(start, inv.finish[n])
		}
		inv.finish[i] = start + stageMs
		inv.stageMs[i], inv.stageUSD[i] = stageMs, stageUSD
		latencyMs = max(latencyMs, inv.finish[i])
		costUSD += stageUSD
	}
	return latencyMs, costUSD
}

// newObservation returns an observation of n invocations broken down by
// stage, ready for record.
func (s *Simulator) newObservation(n int) scheduler.Observation {
	o := scheduler.Observation{LatencyMs: make([]float64, n), CostUSD: make([]float64, n),
		StageLatencyMs: map[string][]float64{}, StageCostUSD: map[string][]float64{}}
	for _, st := range s.stages {
		o.StageLatencyMs[st.name] = make([]float64, n)
		o.StageCostUSD[st.name] = make([]float64, n)
	}
	return o
}

// record keeps invocation i's stages in o.
func (s *Simulator) record(o scheduler.Observation, i int, inv *invocation) {
	for k, st := range s.stages {
		o.StageLatencyMs[st.name][i] = inv.stageMs[k]
		o.StageCostUSD[st.name][i] = inv.stageUSD[k]
	}
}

// Run evaluates c over n invocations, each broken down by stage.
func (s *Simulator) Run(c scheduler.Config, n int, rng *rand.Rand) scheduler.Observation {
	o := s.newObservation(n)
	inv := s.newInvocation(c)
	for i := 0; i < n; i++ {
		o.LatencyMs[i], o.CostUSD[i] = s.invoke(rng.Float64, inv, nil)
		s.record(o, i, inv)
	}
	return o
}

// latencies returns the end-to-end latencies of n invocations of c.
func (s *Simulator) latencies(c scheduler.Config, n int, rng *rand.Rand) []float64 {
	out := make([]float64, n)
	inv := s.newInvocation(c)
	for i := range out {
		out[i], _ = s.invoke(rng.Float64, inv, nil)
	}
	return out
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
	return stats.Percentile(s.latencies(c, truthSamples, rng), p)
}

// MeetsLatency reports whether the p-th percentile of c's latency over
// Truth's fixed sample is within limitMs, as LatencyPercentileMs would
// say, stopping as soon as more invocations exceed it than the percentile
// allows: an oracle's search checks mostly configurations far too slow.
func (s *Simulator) MeetsLatency(c scheduler.Config, p, limitMs float64) bool {
	rng := rand.New(rand.NewPCG(truthSeed, 0))
	allowed := truthSamples - stats.Rank(truthSamples, p)
	inv := s.newInvocation(c)
	over := 0
	for range truthSamples {
		if l, _ := s.invoke(rng.Float64, inv, nil); l > limitMs {
			if over++; over > allowed {
				return false
			}
		}
	}
	return true
}

// Stages returns the number of stages.
func (s *Simulator) Stages() int { return len(s.stages) }

// Graph returns the workflow's stages, in topological order.
func (s *Simulator) Graph() []scheduler.StageNode {
	out := make([]scheduler.StageNode, len(s.stages))
	for i, st := range s.stages {
		out[i] = scheduler.StageNode{Name: st.name, Function: st.function}
		for _, n := range st.needs {
			out[i].Needs = append(out[i].Needs, s.stages[n].name)
		}
	}
	return out
}

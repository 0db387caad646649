package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
)

// Prewarmed is the simulated workflow run with the QoS-aware pre-warm plan
// (prewarm.PlanQoS) that each configuration implies, its invocations
// arriving as a Poisson process: a configuration's cost is then its
// execution cost and the idle and start-up cost of keeping its sandboxes
// warm (prewarm.IdleCost), and its latencies include the cold starts the
// plan lets through. It is what lets tuning choose resources and pre-warm
// settings together. Safe for concurrent use.
type Prewarmed struct {
	s      *Simulator
	space  *scheduler.Space
	target scheduler.Target
	// perSecond is the arrival rate.
	perSecond float64
	mu        sync.Mutex
	costs     map[string]*PrewarmCost
}

// PrewarmCost is a configuration's cost and QoS under its pre-warm plan.
type PrewarmCost struct {
	// ExecUSD is the expected execution cost per invocation, IdleUSD
	// the idle and start-up cost per invocation of its plan.
	ExecUSD, IdleUSD float64
	Plan             prewarm.QoSPlan
	Idle             prewarm.IdleEstimate
	// coldMs is each stage's cold start, and cold each function's (in
	// the plan's order) stages that wait for it when it is cold: those
	// chain warming does not start ahead.
	coldMs []float64
	cold   [][]int
	// stages names the stages, in the plan's order.
	stages []string
}

// TotalUSD is the cost per invocation: execution, idle and start-up.
func (c *PrewarmCost) TotalUSD() float64 { return c.ExecUSD + c.IdleUSD }

// NewPrewarmed prices s's configurations in space, pre-warmed for target,
// at arrivalsPerMinute invocations a minute.
func NewPrewarmed(s *Simulator, space *scheduler.Space, target scheduler.Target, arrivalsPerMinute float64) (*Prewarmed, error) {
	if !(arrivalsPerMinute > 0) || math.IsInf(arrivalsPerMinute, 0) {
		return nil, fmt.Errorf("pre-warmed simulation: %v invocations a minute: want a finite rate > 0", arrivalsPerMinute)
	}
	return &Prewarmed{s: s, space: space, target: target, perSecond: arrivalsPerMinute / 60, costs: map[string]*PrewarmCost{}}, nil
}

// At returns c's cost under its pre-warm plan, planned once per configuration.
func (p *Prewarmed) At(c scheduler.Config) (*PrewarmCost, error) {
	key := p.space.Key(c)
	p.mu.Lock()
	pc, ok := p.costs[key]
	p.mu.Unlock()
	if ok {
		return pc, nil
	}
	pc, err := p.plan(c)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.costs[key] = pc
	p.mu.Unlock()
	return pc, nil
}

// plan describes the workflow at c to PlanQoS and prices the plan.
func (p *Prewarmed) plan(c scheduler.Config) (*PrewarmCost, error) {
	shape := p.Shape(c)
	plan, err := prewarm.PlanQoS(shape)
	if err != nil {
		return nil, fmt.Errorf("pre-warm plan at %s: %w", p.space.Key(c), err)
	}
	prices := map[string]float64{}
	for _, st := range p.s.stages {
		set := c[st.function]
		prices[st.function] = p.s.prices.Rate(set.CPUMilli, set.MemoryBytes)
	}
	idle, err := prewarm.IdleCost(shape, plan, p.perSecond, prices)
	if err != nil {
		return nil, fmt.Errorf("pre-warm plan at %s: %w", p.space.Key(c), err)
	}
	pc := &PrewarmCost{ExecUSD: p.s.ExpectedCostUSD(c), IdleUSD: idle.USD, Plan: plan, Idle: idle}
	for _, st := range shape.Stages {
		pc.coldMs = append(pc.coldMs, float64(st.ColdStart.Microseconds())/1000)
		pc.stages = append(pc.stages, st.Name)
	}
	for _, f := range plan.Functions {
		var waits []int
		for i, st := range shape.Stages {
			if st.Function == f.Function && (!plan.ChainWarm[i] || len(st.Needs) == 0) {
				waits = append(waits, i)
			}
		}
		pc.cold = append(pc.cold, waits)
	}
	return pc, nil
}

// Shape is the workflow at c as the QoS-aware plan sees it: each stage's
// calls all at once (as the simulator runs them), a log-normal element
// time fitted to the stage's latency distribution at the function's CPU
// and memory (the mean and spread of the logs of 200 of its quantiles),
// and a cold start from the memory (trace.ColdStartFor, the pre-warm
// simulator's model).
func (p *Prewarmed) Shape(c scheduler.Config) prewarm.WorkflowShape {
	shape := prewarm.WorkflowShape{Name: p.s.workflow, Latency: time.Duration(p.target.LatencyMs * float64(time.Millisecond)), Percentile: p.target.Percentile}
	const quantiles = 200
	logs := make([]float64, quantiles)
	for _, st := range p.s.stages {
		_, cpu, mem := setting(c, st.function)
		for k := range logs {
			logs[k] = math.Log(max(st.model.sample(cpu, mem, (float64(k)+0.5)/quantiles), 1e-3) / 1000)
		}
		median, sigma := prewarm.FitLogNormal(logs)
		shape.Stages = append(shape.Stages, prewarm.StageShape{
			Name: st.name, Function: st.function, Needs: slices.Clone(st.needs),
			Width: st.items, Parallel: st.items,
			Median: median, Sigma: sigma,
			ColdStart: trace.ColdStartFor(mem),
		})
	}
	return shape
}

// Run evaluates c over n invocations pre-warmed by its plan: in each, a
// function is cold with the probability the plan leaves
// (prewarm.FunctionIdle.ColdProbability), its stages that chain warming
// does not start ahead then starting a cold start late; each invocation
// costs its execution and the plan's idle and start-up cost per invocation.
func (p *Prewarmed) Run(c scheduler.Config, n int, rng *rand.Rand) (scheduler.Observation, error) {
	pc, err := p.At(c)
	if err != nil {
		return scheduler.Observation{}, err
	}
	o := p.s.newObservation(n)
	inv := p.s.newInvocation(c)
	delay := make([]float64, len(p.s.stages))
	for k := range n {
		clear(delay)
		for j, f := range pc.Idle.Functions {
			if f.ColdProbability > 0 && rng.Float64() < f.ColdProbability {
				for _, i := range pc.cold[j] {
					delay[i] = pc.coldMs[i]
				}
			}
		}
		lat, cost := p.s.invoke(rng.Float64, inv, delay)
		o.LatencyMs[k], o.CostUSD[k] = lat, cost+pc.IdleUSD
		p.s.record(o, k, inv)
	}
	return o, nil
}

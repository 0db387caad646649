package prewarm

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"baton.dev/baton/scheduler/stats"
)

// WorkflowShape is what the QoS-aware pre-warm decision (PlanQoS) knows of
// a workflow: its end-to-end target, its stages and their element-time
// model, and each stage's function's cold start. The simulator fills it in
// from its stage model, the orchestrator from the workflow's definition and
// its pools' measurements.
type WorkflowShape struct {
	// Name identifies the workflow in errors.
	Name string
	// Latency and Percentile are the QoS: Percentile percent (in (0, 100))
	// of invocations within Latency.
	Latency    time.Duration
	Percentile float64
	// Stages are the workflow's stages, in any order whose needs point
	// backwards or forwards (cycles are refused).
	Stages []StageShape
}

// StageShape is one stage of a WorkflowShape.
type StageShape struct {
	// Name and Function name the stage and the function it calls.
	Name, Function string
	// Needs are the indexes in Stages of the stages it waits for.
	Needs []int
	// Width is the number of elements it calls (a foreach's fan-out, else
	// 1), Parallel how many run at once (≤ Width; 0 means Width).
	Width, Parallel int
	// Median and Sigma model one element's execution time, log-normal.
	Median time.Duration
	Sigma  float64
	// ColdStart is the time to start a sandbox of its function.
	ColdStart time.Duration
}

// qosSamples is how many invocations PlanQoS draws; qosSeed seeds them.
const (
	qosSamples = 4000
	qosSeed    = 0x9e3779b97f4a7c15
)

// violationRate is the share of latencies above qos.
func violationRate(latencies []float64, qos float64) float64 {
	n := 0
	for _, l := range latencies {
		if l > qos {
			n++
		}
	}
	return float64(n) / float64(len(latencies))
}

// validate checks w's QoS and stages.
func (w WorkflowShape) validate() error {
	if w.Latency <= 0 || !(w.Percentile > 0 && w.Percentile < 100) {
		return fmt.Errorf("QoS-aware pre-warming of %s: QoS %v at p%v: want a latency > 0 and a percentile in (0, 100)", w.Name, w.Latency, w.Percentile)
	}
	if len(w.Stages) == 0 {
		return fmt.Errorf("QoS-aware pre-warming of %s: no stages", w.Name)
	}
	for i, s := range w.Stages {
		if s.Width < 1 || s.Parallel < 0 || s.Median < 0 || s.Sigma < 0 || math.IsNaN(s.Sigma) || math.IsInf(s.Sigma, 0) || s.ColdStart < 0 || s.Function == "" {
			return fmt.Errorf("QoS-aware pre-warming of %s: stage %d (%s): function %q, width %d, parallel %d, median %v, sigma %v, cold start %v: want a function, width ≥ 1, parallel ≥ 0 and the times ≥ 0",
				w.Name, i, s.Name, s.Function, s.Width, s.Parallel, s.Median, s.Sigma, s.ColdStart)
		}
	}
	return w.checkNeeds()
}

// topoOrder returns the stages in an order where every stage comes after
// its needs.
func (w WorkflowShape) topoOrder() ([]int, error) {
	order := make([]int, 0, len(w.Stages))
	done := make([]bool, len(w.Stages))
	for len(order) < len(w.Stages) {
		progress := false
		for i, s := range w.Stages {
			if done[i] || slices.ContainsFunc(s.Needs, func(k int) bool { return !done[k] }) {
				continue
			}
			done[i], progress = true, true
			order = append(order, i)
		}
		if !progress {
			return nil, errors.New("QoS-aware pre-warming of " + w.Name + ": its stages' needs form a cycle")
		}
	}
	return order, nil
}

// drawElements draws qosSamples invocations' element times, in seconds:
// out[k][i] lists stage i's elements in invocation k.
func (w WorkflowShape) drawElements() [][][]float64 {
	state := uint64(qosSeed)
	next := func() float64 {
		z := splitmix64(state)
		state += 0x9e3779b97f4a7c15
		return (float64(z>>11) + 0.5) / (1 << 53)
	}
	out := make([][][]float64, qosSamples)
	for k := range out {
		out[k] = make([][]float64, len(w.Stages))
		for i, s := range w.Stages {
			els := make([]float64, s.Width)
			for e := range els {
				z := math.Sqrt(-2*math.Log(next())) * math.Cos(2*math.Pi*next())
				els[e] = s.Median.Seconds() * math.Exp(s.Sigma*z)
			}
			out[k][i] = els
		}
	}
	return out
}

// Order returns the indexes of w's stages in an order where every stage
// comes after its needs, for WarmLatency; an error names a cycle or a bad
// need.
func (w WorkflowShape) Order() ([]int, error) {
	if err := w.checkNeeds(); err != nil {
		return nil, err
	}
	return w.topoOrder()
}

// checkNeeds checks that every need is another stage of w.
func (w WorkflowShape) checkNeeds() error {
	for i, s := range w.Stages {
		for _, k := range s.Needs {
			if k < 0 || k >= len(w.Stages) || k == i {
				return fmt.Errorf("QoS-aware pre-warming of %s: stage %d (%s) needs stage %d: want another of the %d stages", w.Name, i, s.Name, k, len(w.Stages))
			}
		}
	}
	return nil
}

// WarmLatency is the end-to-end latency, in seconds, of an invocation
// whose stage i's elements take elements[i] seconds, with every sandbox
// warm and free (no cold start, no queueing): the bound of PlanQoS, for
// a simulator to measure on its own invocations. order is Order's.
func (w WorkflowShape) WarmLatency(order []int, elements [][]float64) float64 {
	return w.latency(order, elements, scenario{})
}

// scenario says when each stage's sandboxes are there: stage i starts
// delay[i] after its needs are done (a cold start on its arrival), and
// not before readyAt[i] after the invocation starts (a chain-warmed
// sandbox); the zero scenario has every sandbox warm.
type scenario struct{ delay, readyAt []float64 }

// latencies are the end-to-end latencies of the drawn invocations under sc.
func (w WorkflowShape) latencies(order []int, draws [][][]float64, sc scenario) []float64 {
	out := make([]float64, len(draws))
	for k := range out {
		out[k] = w.latency(order, draws[k], sc)
	}
	return out
}

// coldArrival are the latencies of the drawn invocations arriving with no
// sandbox warm: the first stages wait their cold starts; a chain-warmed
// stage's sandboxes are started so as to be ready when it is expected
// (ChainWarmAt, after the first stages' cold start and the critical path
// of mean element times before it), the others wait their cold starts.
func (w WorkflowShape) coldArrival(order []int, draws [][][]float64, chain []bool) []float64 {
	sc := scenario{delay: make([]float64, len(w.Stages)), readyAt: make([]float64, len(w.Stages))}
	var rootDelay float64
	for _, s := range w.Stages {
		if len(s.Needs) == 0 {
			rootDelay = max(rootDelay, s.ColdStart.Seconds())
		}
	}
	offsets := w.expectedOffsets(order)
	for i, s := range w.Stages {
		switch {
		case chain[i]:
			at := ChainWarmAt(seconds(rootDelay), seconds(offsets[i]), s.ColdStart)
			sc.readyAt[i] = (at + s.ColdStart).Seconds()
		default:
			sc.delay[i] = s.ColdStart.Seconds()
		}
	}
	return w.latencies(order, draws, sc)
}

// expectedOffsets are the stages' expected starts after the invocation's,
// on warm sandboxes: the longest path of their needs' rounds of mean
// element times (the simulator's and the live chain warming's rule).
func (w WorkflowShape) expectedOffsets(order []int) []float64 {
	offsets := make([]float64, len(w.Stages))
	for _, i := range order {
		for _, k := range w.Stages[i].Needs {
			n := &w.Stages[k]
			rounds := math.Ceil(float64(n.Width) / float64(n.parallel()))
			offsets[i] = max(offsets[i], offsets[k]+rounds*n.meanElement())
		}
	}
	return offsets
}

// FitLogNormal fits a stage's log-normal element time to the logs of
// measured times in seconds (at least one): the median e^mean and the
// sigma the standard deviation (population) of the logs.
func FitLogNormal(logSeconds []float64) (median time.Duration, sigma float64) {
	mean, ss := stats.Mean(logSeconds), 0.0
	for _, l := range logSeconds {
		ss += (l - mean) * (l - mean)
	}
	return seconds(math.Exp(mean)), math.Sqrt(ss / float64(len(logSeconds)))
}

// meanElement is the mean of the stage's log-normal element time, in
// seconds.
func (s *StageShape) meanElement() float64 {
	return s.Median.Seconds() * math.Exp(s.Sigma*s.Sigma/2)
}

// parallel is how many of the stage's elements run at once.
func (s *StageShape) parallel() int {
	if s.Parallel <= 0 || s.Parallel > s.Width {
		return s.Width
	}
	return s.Parallel
}

// latency is one invocation's end-to-end latency, in seconds: each stage
// starts when its needs are done and its sandboxes are there (sc), and
// runs its elements in order on its parallel slots, each element on the
// first slot free.
func (w WorkflowShape) latency(order []int, elements [][]float64, sc scenario) float64 {
	return w.run(order, elements, sc, nil)
}

// run is latency, and sets starts[i] (when starts is not nil) to when
// stage i started.
func (w WorkflowShape) run(order []int, elements [][]float64, sc scenario, starts []float64) float64 {
	// A usual workflow's stages and parallel slots fit on the stack: the
	// simulator runs this for every workflow invocation, and PlanQoS for
	// every drawn one under every plan it weighs.
	var finishOnStack, slotsOnStack [16]float64
	finish := finishOnStack[:0]
	if n := len(w.Stages); n <= len(finishOnStack) {
		finish = finishOnStack[:n]
	} else {
		finish = make([]float64, n)
	}
	slots := slotsOnStack[:0]
	end := 0.0
	for _, i := range order {
		s := &w.Stages[i]
		start := 0.0
		for _, k := range s.Needs {
			start = max(start, finish[k])
		}
		if sc.delay != nil {
			start = max(start+sc.delay[i], sc.readyAt[i])
		}
		if starts != nil {
			starts[i] = start
		}
		slots = slots[:0]
		for range s.parallel() {
			slots = append(slots, start)
		}
		done := start
		for _, d := range elements[i] {
			j := slices.Index(slots, slices.Min(slots))
			slots[j] += d
			done = max(done, slots[j])
		}
		finish[i] = done
		end = max(end, done)
	}
	return end
}

// seconds turns float seconds into a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// chainHolds are, per stage, how long a sandbox chain warming readies
// for it may wait idle before the stage starts, at the most over the
// drawn invocations: it is ready at the stage's expected start (the
// first stages' cold start later, see ChainWarmAt), and the stage starts
// when its needs are done, later when they are slower than their means.
func (w WorkflowShape) chainHolds(order []int, draws [][][]float64) []float64 {
	offsets := w.expectedOffsets(order)
	holds := make([]float64, len(w.Stages))
	starts := make([]float64, len(w.Stages))
	for _, d := range draws {
		w.run(order, d, scenario{}, starts)
		for i := range holds {
			holds[i] = max(holds[i], starts[i]-offsets[i])
		}
	}
	return holds
}

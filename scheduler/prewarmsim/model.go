package prewarmsim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// poolSpec is one simulated function.
type poolSpec struct {
	name         string
	coldStart    float64 // seconds
	meanDuration float64 // seconds; of a trace function, measured on its invocations by prepare
	// perArrival is how many requests each of the group's arrivals sends
	// the pool: 1 for a trace function, the elements of its stages for a
	// workflow's function.
	perArrival int
	future     []int // arrivals per interval, for the oracle: filled in by prepare
	// usdPerSecond is what a second of one of its sandboxes costs (the
	// cost model's rate at the function's CPU and memory; 0 for a trace
	// function, whose resources the trace does not give).
	usdPerSecond float64
	// qos is the function's share of its workflow's QoS plan (nil for a
	// trace function or a workflow without a QoS).
	qos *prewarm.FunctionQoS
}

// groupSpec is a set of pools simulated together: one trace function, or
// one instance of a workflow with a pool per function.
type groupSpec struct {
	pools []poolSpec
	// fn is the trace function whose invocations drive the group (the
	// workflow instance's invocations, their durations unused), and calls
	// how many invocations it has.
	fn, calls int
	wf        *workflowModel // nil for a trace function
	index     int
}

// workflowModel is a workflow's DAG as the simulator runs it.
type workflowModel struct {
	name   string
	qos    float64 // end-to-end latency target in seconds; 0: none
	stages []stageModel
	roots  []int
	// shape is the DAG as prewarm.PlanQoS sees it, order its stages in
	// dependency order (for the warm latency of an invocation), and plan
	// the QoS-aware decision on it (nil without a QoS).
	shape prewarm.WorkflowShape
	order []int
	plan  *prewarm.QoSPlan
}

// stageModel is one stage of a workflow.
type stageModel struct {
	name       string
	pool       int
	needs      []int
	dependents []int
	width      int // elements: the fan-out for foreach, else 1
	parallel   int // elements running at once
	median     float64
	sigma      float64
	// offset is the expected time from the invocation's start to the
	// stage's start, on warm sandboxes.
	offset float64
}

// meanElement is the expected duration of one element of the stage.
func (s *stageModel) meanElement() float64 { return s.median * math.Exp(s.sigma*s.sigma/2) }

// buildGroups turns the trace and workflows into groups: workflow instances
// first, driven by functions at evenly spaced popularity ranks, then every
// other trace function on its own. calls are the functions' invocations.
func buildGroups(cfg Config, calls []int) ([]groupSpec, error) {
	tr := cfg.Stream
	drivers := chooseDrivers(calls, tr.Minutes(), len(cfg.Workflows)*cfg.InstancesPerWorkflow)
	driven := map[int]bool{}
	var groups []groupSpec
	plans := map[*workflow.Workflow]*prewarm.QoSPlan{} // the same for every instance
	for k, fi := range drivers {
		w := cfg.Workflows[k%len(cfg.Workflows)]
		instance := k / len(cfg.Workflows)
		g, err := workflowGroup(cfg, w, instance, plans)
		if err != nil {
			return nil, err
		}
		g.fn, g.calls = fi, calls[fi]
		driven[fi] = true
		groups = append(groups, g)
	}
	for i := range calls {
		if driven[i] {
			continue
		}
		f, _ := tr.Function(i)
		groups = append(groups, groupSpec{
			pools: []poolSpec{{name: f.Name, coldStart: f.ColdStart.Seconds(), perArrival: 1}},
			fn:    i, calls: calls[i],
		})
	}
	for i := range groups {
		groups[i].index = i
	}
	return groups, nil
}

// chooseDrivers returns n of the functions (calls are their invocations
// over minutes) invoked at least once an hour on average, at evenly spaced
// ranks by popularity (fewer when there are not enough).
func chooseDrivers(calls []int, minutes, n int) []int {
	var candidates []int
	for i, c := range calls {
		if c*60 >= minutes {
			candidates = append(candidates, i)
		}
	}
	sort.SliceStable(candidates, func(a, b int) bool {
		return calls[candidates[a]] > calls[candidates[b]]
	})
	if n >= len(candidates) {
		return candidates
	}
	out := make([]int, n)
	for k := range out {
		out[k] = candidates[(2*k+1)*len(candidates)/(2*n)]
	}
	return out
}

// workflowGroup builds instance instance of w; plans caches the QoS plans
// of the workflows by definition.
func workflowGroup(cfg Config, w *workflow.Workflow, instance int, plans map[*workflow.Workflow]*prewarm.QoSPlan) (groupSpec, error) {
	m := &workflowModel{name: w.Metadata.Name, qos: w.Spec.QoS.Latency.Seconds()}
	g := groupSpec{wf: m}
	poolOf := map[string]int{}
	byName := map[string]int{}
	for i, st := range w.Spec.Stages {
		byName[st.Name] = i
	}
	for _, st := range w.Spec.Stages {
		p, ok := poolOf[st.Function]
		if !ok {
			fn := w.Spec.Functions[st.Function]
			mem := float64(fn.DefaultMemoryBytes()) / (1 << 20)
			if mem <= 0 {
				mem = trace.DefaultMemoryMB
			}
			p = len(g.pools)
			poolOf[st.Function] = p
			g.pools = append(g.pools, poolSpec{
				name:         fmt.Sprintf("%s#%d/%s", w.Metadata.Name, instance, st.Function),
				coldStart:    trace.ColdStartFor(mem).Seconds(),
				usdPerSecond: cfg.Prices.Rate(fn.DefaultCPUMilli(), int64(mem*(1<<20))),
			})
		}
		s := stageModel{name: st.Name, pool: p, width: 1, parallel: 1, median: cfg.StageMedian.Seconds(), sigma: cfg.StageSigma}
		if times, ok := cfg.StageTimes[w.Metadata.Name]; ok {
			t := times.Stages[len(m.stages)]
			s.median, s.sigma = t.Median.Seconds(), t.Sigma
		}
		if st.Foreach != "" {
			s.width = cfg.Fanout
			s.parallel = s.width
			if st.MaxParallel > 0 {
				s.parallel = min(st.MaxParallel, s.width)
			}
		}
		for _, need := range st.Needs {
			k, ok := byName[need]
			if !ok {
				return g, fmt.Errorf("workflow %s: stage %s needs unknown stage %s", w.Metadata.Name, st.Name, need)
			}
			s.needs = append(s.needs, k)
		}
		m.stages = append(m.stages, s)
	}
	for i := range m.stages {
		if len(m.stages[i].needs) == 0 {
			m.roots = append(m.roots, i)
		}
		for _, k := range m.stages[i].needs {
			m.stages[k].dependents = append(m.stages[k].dependents, i)
		}
	}
	if err := m.computeOffsets(); err != nil {
		return g, err
	}
	if err := m.planQoS(w, g.pools, plans); err != nil {
		return g, err
	}
	if m.plan != nil {
		for fn, p := range poolOf {
			g.pools[p].qos = m.plan.Function(fn)
		}
	}
	// Per pool: the mean duration of its elements and the elements each
	// invocation sends it (for the oracle's arrivals per interval: the
	// workflow's times those; stage offsets of seconds are ignored).
	for _, s := range m.stages {
		ps := &g.pools[s.pool]
		ps.meanDuration += s.meanElement() * float64(s.width)
		ps.perArrival += s.width
	}
	for p := range g.pools {
		g.pools[p].meanDuration /= float64(g.pools[p].perArrival)
	}
	return g, nil
}

// prepare returns the group's pools with what their planners are told of
// the driving function's invocations, read in one pass over them: the
// arrivals per interval and, for a trace function, the mean duration.
func prepare(cfg Config, g *groupSpec, buf []trace.Invocation) ([]poolSpec, []trace.Invocation) {
	interval := cfg.Interval.Seconds()
	intervals := int(math.Ceil(float64(cfg.Stream.Minutes()) * 60 / interval))
	base := make([]int, intervals)
	var sum float64
	a := cfg.Stream.Arrivals(g.fn)
	for {
		var ok bool
		if buf, ok = a.Next(buf); !ok {
			break
		}
		for _, inv := range buf {
			if k := int(inv.Start / interval); k >= 0 && k < intervals {
				base[k]++
			}
			sum += float64(inv.Duration)
		}
	}
	pools := slices.Clone(g.pools)
	for p := range pools {
		ps := &pools[p]
		ps.future = base
		if ps.perArrival != 1 {
			ps.future = make([]int, intervals)
			for k, c := range base {
				ps.future[k] = c * ps.perArrival
			}
		}
	}
	if g.wf == nil && g.calls > 0 {
		pools[0].meanDuration = time.Duration(sum / float64(g.calls) * float64(time.Second)).Seconds()
	}
	return pools, buf
}

// computeOffsets sets each stage's expected start from the invocation's
// start: the longest path of expected stage durations through its needs.
func (m *workflowModel) computeOffsets() error {
	done := make([]bool, len(m.stages))
	for range m.stages {
		progress := false
		for i := range m.stages {
			s := &m.stages[i]
			if done[i] {
				continue
			}
			ready := true
			s.offset = 0
			for _, k := range s.needs {
				if !done[k] {
					ready = false
					break
				}
				n := &m.stages[k]
				rounds := math.Ceil(float64(n.width) / float64(n.parallel))
				s.offset = math.Max(s.offset, n.offset+rounds*n.meanElement())
			}
			if ready {
				done[i] = true
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	for i, d := range done {
		if !d {
			return fmt.Errorf("workflow %s: stage %s is on a cycle", m.name, m.stages[i].name)
		}
	}
	return nil
}

// planQoS describes the workflow to prewarm.PlanQoS (shape and order) and
// plans it, once per definition (plans): the QoS-aware policies' settings
// for its functions, and the warm bound the report shows. pools are the
// instance's, for the cold starts.
func (m *workflowModel) planQoS(w *workflow.Workflow, pools []poolSpec, plans map[*workflow.Workflow]*prewarm.QoSPlan) error {
	m.shape = prewarm.WorkflowShape{Name: m.name, Latency: w.Spec.QoS.Latency, Percentile: w.Spec.QoS.Percentile}
	for i, st := range m.stages {
		m.shape.Stages = append(m.shape.Stages, prewarm.StageShape{
			Name: st.name, Function: w.Spec.Stages[i].Function, Needs: st.needs,
			Width: st.width, Parallel: st.parallel,
			Median: seconds(st.median), Sigma: st.sigma,
			ColdStart: seconds(pools[st.pool].coldStart),
		})
	}
	order, err := m.shape.Order()
	if err != nil {
		return err
	}
	m.order = order
	if w.Spec.QoS.IsZero() {
		return nil
	}
	if p, ok := plans[w]; ok {
		m.plan = p
		return nil
	}
	p, err := prewarm.PlanQoS(m.shape)
	if err != nil {
		return fmt.Errorf("simulate pre-warming: %w", err)
	}
	plans[w], m.plan = &p, &p
	return nil
}

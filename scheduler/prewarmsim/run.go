package prewarmsim

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
)

// Result is one policy's figures over the whole trace.
type Result struct {
	// Policy is the policy's name.
	Policy string `json:"policy"`
	// Requests counts the requests served (trace invocations and workflow
	// stage elements); ColdStarts those that waited for a sandbox to start.
	Requests   int64 `json:"requests"`
	ColdStarts int64 `json:"coldStarts"`
	// ColdStartRate is ColdStarts / Requests.
	ColdStartRate float64 `json:"coldStartRate"`
	// MeanColdWaitMs is the mean wait of a cold-started request.
	MeanColdWaitMs float64 `json:"meanColdWaitMs"`
	// Queued counts the requests that waited for a busy sandbox to free
	// up (the autoscaler leaves a call shorter than a cold start to the
	// busy sandboxes); MeanQueueWaitMs is their mean wait.
	Queued          int64   `json:"queued"`
	MeanQueueWaitMs float64 `json:"meanQueueWaitMs"`
	// IdleSandboxSeconds is the time warm sandboxes spent with no request,
	// summed over sandboxes: the idle cost.
	IdleSandboxSeconds float64 `json:"idleSandboxSeconds"`
	// SandboxesCreated counts sandbox starts; ChainWarmed those started by
	// workflow-aware chain warming.
	SandboxesCreated int64 `json:"sandboxesCreated"`
	ChainWarmed      int64 `json:"chainWarmed"`
	// WorkflowInvocations counts the finished invocations of the sample
	// workflows; QoSViolations those slower than their workflow's latency
	// target.
	WorkflowInvocations int     `json:"workflowInvocations"`
	QoSViolations       int     `json:"qosViolations"`
	QoSViolationRate    float64 `json:"qosViolationRate"`
	// WorkflowP99Ms is the end-to-end p99 of all workflow invocations;
	// ColdArrivalP99Ms that of the ColdArrivals invocations whose first
	// stage waited for a sandbox to start (arrivals to a cold workflow).
	// Percentiles come from a sketch: each is within SketchRelativeError
	// of the exact one.
	WorkflowP99Ms    float64 `json:"workflowP99Ms"`
	ColdArrivals     int     `json:"coldArrivals"`
	ColdArrivalP99Ms float64 `json:"coldArrivalP99Ms"`
	// PerWorkflow breaks the workflow figures down by sample workflow.
	PerWorkflow []WorkflowResult `json:"perWorkflow"`
	// PerClass breaks the cold starts and idle time down by how often the
	// trace functions are called, the workflow instances apart: where a
	// policy spends its idle time.
	PerClass []ClassResult `json:"perClass"`
	// Decisions counts planner decisions (one per function per interval);
	// PolicyMicrosPerDecision is the planner's own time per decision,
	// observing included.
	Decisions               int64   `json:"decisions"`
	PolicyMicrosPerDecision float64 `json:"policyUsPerDecision"`
	// AutoscalerCalls counts calls of decide.Scale.
	AutoscalerCalls int64 `json:"autoscalerCalls"`
	// WallSeconds is the time spent simulating this policy, summed over
	// the groups simulated in parallel; the production of the trace's
	// invocations, shared by the policies, is not in it (Report's is).
	WallSeconds float64 `json:"wallSeconds"`
}

// WorkflowResult is one sample workflow's figures under a policy, over
// all its instances.
type WorkflowResult struct {
	Workflow         string  `json:"workflow"`
	Stages           int     `json:"stages"`
	Invocations      int     `json:"invocations"`
	QoSViolationRate float64 `json:"qosViolationRate"`
	// WarmViolationRate is the share of the same invocations that would
	// have been slower than the QoS with every sandbox warm and free: the
	// bound no pre-warm policy beats (the same under every policy).
	WarmViolationRate float64 `json:"warmViolationRate"`
	// AllowedViolationRate is 1 − the QoS percentile.
	AllowedViolationRate float64 `json:"allowedViolationRate"`
	P99Ms                float64 `json:"p99Ms"`
	ColdArrivals         int     `json:"coldArrivals"`
	ColdArrivalP99Ms     float64 `json:"coldArrivalP99Ms"`
	// IdleSandboxSeconds is the idle time of the workflow's functions'
	// sandboxes; IdleUSD its price and ExecUSD that of the requests'
	// execution in the cost model (DESIGN.md: the functions' CPU and
	// memory, fixed or, for auto, their upper bounds), CostUSD the two
	// together.
	IdleSandboxSeconds float64 `json:"idleSandboxSeconds"`
	IdleUSD            float64 `json:"idleUsd"`
	ExecUSD            float64 `json:"execUsd"`
	CostUSD            float64 `json:"costUsd"`
	// StartupSandboxSeconds is the time its functions' sandboxes spent
	// starting: reserved, neither idle nor serving, and outside the cost
	// model; what a policy that keeps fewer sandboxes warm pays instead.
	StartupSandboxSeconds float64 `json:"startupSandboxSeconds"`
	// IdleToKeepalive10m is IdleSandboxSeconds over keepalive-10m's for the
	// same workflow (0 when keepalive-10m was not simulated).
	IdleToKeepalive10m float64 `json:"idleToKeepalive10m"`
	// MeetsQoS says whether QoSViolationRate is within
	// AllowedViolationRate; MeetsTarget whether, besides, the idle is at
	// most QoSTargetIdleRatio of keepalive-10m's (issue 22 §3).
	MeetsQoS    bool `json:"meetsQoS"`
	MeetsTarget bool `json:"meetsTarget"`
}

// QoSTargetIdleRatio is the most idle sandbox-time, as a share of
// keepalive-10m's on the same workflow's functions, with which a policy
// meets the QoS-aware target.
const QoSTargetIdleRatio = 0.6

// baselinePolicy is the policy the workflows' idle is measured against.
const baselinePolicy = "keepalive-10m"

// ClassResult is one class of functions' figures under a policy.
type ClassResult struct {
	// Class is "workflows" (the sample workflows' instances, all their
	// functions) or a range of calls a day of trace functions.
	Class string `json:"class"`
	// Groups counts the trace functions, or the workflow instances.
	Groups             int     `json:"groups"`
	Requests           int64   `json:"requests"`
	ColdStarts         int64   `json:"coldStarts"`
	ColdStartRate      float64 `json:"coldStartRate"`
	IdleSandboxSeconds float64 `json:"idleSandboxSeconds"`
	// IdleShare is the class's share of the policy's idle sandbox-seconds.
	IdleShare float64 `json:"idleShare"`
}

// numClasses is how many classes PerClass has.
const numClasses = 6

// className names class k of PerClass; in report order, trace functions
// by calls a day, then the workflow instances.
func className(k int) string {
	return [numClasses]string{"< 10/day", "10-100/day", "100-1k/day", "1k-10k/day", ">= 10k/day", "workflows"}[k]
}

// classOf is the class of group g on a trace of minutes.
func classOf(g *groupSpec, minutes int) int {
	if g.wf != nil {
		return numClasses - 1
	}
	perDay := float64(g.calls) * 1440 / float64(max(minutes, 1))
	c := 0
	for bound := 10.0; c < numClasses-2 && perDay >= bound; bound *= 10 {
		c++
	}
	return c
}

// Report is a simulation of several policies on one trace.
type Report struct {
	// Trace names the trace; Functions and Minutes size it; Invocations
	// counts its invocations.
	Trace       string `json:"trace"`
	Functions   int    `json:"functions"`
	Minutes     int    `json:"minutes"`
	Invocations int    `json:"invocations"`
	// Workflows names the sample workflows run on top and Instances how
	// many instances of them were driven by trace functions.
	Workflows []string `json:"workflows"`
	Instances int      `json:"workflowInstances"`
	// StageModels says, per workflow of Workflows, where its stages'
	// element times come from: its profile, or the uniform model.
	StageModels []string `json:"stageModels"`
	// Results has one entry per policy, in the order asked.
	Results []Result `json:"results"`
	// QoSPlans are the workflows' QoS-aware pre-warm decisions (the
	// settings aquatope-qos gives their functions), in Workflows' order.
	QoSPlans []QoSPlanSummary `json:"qosPlans"`
	// WallSeconds is how long the whole simulation took.
	WallSeconds float64 `json:"wallSeconds"`
}

// Run simulates each policy on cfg's trace and workflows. The trace is
// streamed: each group (a trace function, or a workflow instance and the
// function driving it) is simulated under every policy at once while its
// invocations are produced a minute at a time, so that memory holds, per
// group in flight, one stretch of its invocations and the policies'
// sandboxes, queues and planners, and never the trace's invocations.
func Run(ctx context.Context, cfg Config, policies []prewarm.PrewarmPolicy) (*Report, error) {
	start := time.Now()
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	calls := make([]int, cfg.Stream.Len())
	rep := &Report{
		Trace:     cfg.Stream.Source(),
		Functions: len(calls),
		Minutes:   cfg.Stream.Minutes(),
	}
	for i := range calls {
		_, calls[i] = cfg.Stream.Function(i)
		rep.Invocations += calls[i]
	}
	groups, err := buildGroups(cfg, calls)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Workflows {
		rep.Workflows = append(rep.Workflows, w.Metadata.Name)
		model := fmt.Sprintf("uniform: median %v, sigma %g", cfg.StageMedian, cfg.StageSigma)
		if st, ok := cfg.StageTimes[w.Metadata.Name]; ok {
			model = st.Source
		}
		rep.StageModels = append(rep.StageModels, model)
	}
	for _, g := range groups {
		if g.wf != nil {
			rep.Instances++
		}
	}
	stats, busy, err := simulate(ctx, cfg, groups, policies)
	if err != nil {
		return nil, err
	}
	for k, pol := range policies {
		res := summarise(cfg, groups, stats[k], pol.Name())
		res.WallSeconds = busy[k].Seconds()
		rep.Results = append(rep.Results, res)
	}
	compareWorkflows(rep.Results)
	rep.QoSPlans = summarisePlans(groups)
	rep.WallSeconds = time.Since(start).Seconds()
	return rep, nil
}

// chunkArrivals is how many arrivals at least (whole minutes of them, or
// the rest of the trace) are handed to the policies' runners at a time.
const chunkArrivals = 4096

// simulate runs every group under every policy, Parallelism groups at a
// time, the busiest first. It returns the groups' figures per policy and
// the time spent in each policy's runners.
func simulate(ctx context.Context, cfg Config, groups []groupSpec, policies []prewarm.PrewarmPolicy) ([][]groupStats, []time.Duration, error) {
	stats := make([][]groupStats, len(policies))
	for k := range stats {
		stats[k] = make([]groupStats, len(groups))
	}
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return groups[order[a]].calls > groups[order[b]].calls })
	clocks := make([]*policyClock, cfg.Parallelism) // per worker
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := 0
	for w := range cfg.Parallelism {
		clocks[w] = newPolicyClock(ctx, policies)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []trace.Invocation
			for {
				mu.Lock()
				i := len(groups)
				if next < len(order) && firstErr == nil {
					i = order[next]
					next++
				}
				mu.Unlock()
				if i >= len(groups) {
					return
				}
				var err error
				buf, err = simulateGroup(ctx, cfg, &groups[i], policies, stats, clocks[w], buf)
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	total := make([]time.Duration, len(policies))
	for _, c := range clocks {
		for k, d := range c.busy {
			total[k] += d
		}
	}
	return stats, total, nil
}

// simulateGroup runs group g under every policy, in step: one pass over
// its driving function's invocations tells the planners what the simulator
// knows in advance (prepare), a second hands them to every policy's runner
// a stretch at a time. It stores the figures in stats[policy][g.index] and
// runs each policy's runner on clock.
func simulateGroup(ctx context.Context, cfg Config, g *groupSpec, policies []prewarm.PrewarmPolicy, stats [][]groupStats, clock *policyClock, buf []trace.Invocation) ([]trace.Invocation, error) {
	pools, buf := prepare(cfg, g, buf)
	runners := make([]*runner, len(policies))
	for k, pol := range policies {
		var err error
		clock.run(k, func() {
			if runners[k], err = newRunner(cfg, g, pools, pol); err == nil {
				runners[k].start()
			}
		})
		if err != nil {
			return buf, err
		}
	}
	var times *invocationTimes
	if g.wf != nil {
		times = newInvocationTimes(cfg.Seed, g)
	}
	feed := func(chunk []trace.Invocation) {
		if times != nil {
			times.draw(len(chunk))
		}
		for k, r := range runners {
			clock.run(k, func() { r.feed(chunk, times) })
		}
	}
	a := cfg.Stream.Arrivals(g.fn)
	var chunk []trace.Invocation
	for {
		var ok bool
		if buf, ok = a.Next(buf); !ok {
			break
		}
		chunk = append(chunk, buf...)
		if len(chunk) >= chunkArrivals {
			if err := ctx.Err(); err != nil {
				return buf, fmt.Errorf("simulate pre-warming: %w", err)
			}
			feed(chunk)
			chunk = chunk[:0]
		}
	}
	feed(chunk)
	for k, r := range runners {
		clock.run(k, func() { stats[k][g.index] = r.finish() })
	}
	if err := ctx.Err(); err != nil {
		return buf, fmt.Errorf("simulate pre-warming: %w", err)
	}
	return buf, nil
}

// summarise adds up one policy's figures over the groups.
func summarise(cfg Config, groups []groupSpec, stats []groupStats, policy string) Result {
	res := Result{Policy: policy}
	var total groupStats
	var latencies, coldLatencies latencySketch
	var policyTime time.Duration
	byWorkflow := map[string]*workflowStats{}
	var names []string
	var classes [numClasses]ClassResult
	for i, s := range stats {
		c := &classes[classOf(&groups[i], cfg.Stream.Minutes())]
		c.Groups++
		c.Requests += s.requests
		c.ColdStarts += s.cold
		c.IdleSandboxSeconds += s.idleSeconds
		if wf := groups[i].wf; wf != nil {
			w := byWorkflow[wf.name]
			if w == nil {
				w = &workflowStats{stages: len(wf.stages)}
				byWorkflow[wf.name] = w
				names = append(names, wf.name)
			}
			w.latencies.merge(s.latencies)
			w.coldLatencies.merge(s.coldLatencies)
			w.violations += s.violations
			w.warmViolations += s.warmViolations
			w.idleSeconds += s.idleSeconds
			w.startupSeconds += s.startupSeconds
			w.idleUSD += s.idleUSD
			w.execUSD += s.execUSD
			w.allowed = 1 - wf.shape.Percentile/100
		}
		total.requests += s.requests
		total.cold += s.cold
		total.coldWait += s.coldWait
		total.queued += s.queued
		total.queueWait += s.queueWait
		total.idleSeconds += s.idleSeconds
		total.created += s.created
		total.chained += s.chained
		total.scaleCalls += s.scaleCalls
		total.decisions += s.decisions
		policyTime += s.policyTime
		latencies.merge(s.latencies)
		coldLatencies.merge(s.coldLatencies)
		total.violations += s.violations
	}
	res.Requests, res.ColdStarts = total.requests, total.cold
	if total.requests > 0 {
		res.ColdStartRate = float64(total.cold) / float64(total.requests)
	}
	if total.cold > 0 {
		res.MeanColdWaitMs = total.coldWait / float64(total.cold) * 1000
	}
	res.Queued = total.queued
	if total.queued > 0 {
		res.MeanQueueWaitMs = total.queueWait / float64(total.queued) * 1000
	}
	res.IdleSandboxSeconds = total.idleSeconds
	res.SandboxesCreated, res.ChainWarmed = total.created, total.chained
	res.WorkflowInvocations = latencies.count()
	res.QoSViolations = total.violations
	if res.WorkflowInvocations > 0 {
		res.QoSViolationRate = float64(total.violations) / float64(res.WorkflowInvocations)
	}
	res.WorkflowP99Ms = latencies.percentile(99) * 1000
	res.ColdArrivals = coldLatencies.count()
	res.ColdArrivalP99Ms = coldLatencies.percentile(99) * 1000
	sort.Strings(names)
	for _, name := range names {
		w := byWorkflow[name]
		wr := WorkflowResult{Workflow: name, Stages: w.stages, Invocations: w.latencies.count(), ColdArrivals: w.coldLatencies.count(),
			P99Ms: w.latencies.percentile(99) * 1000, ColdArrivalP99Ms: w.coldLatencies.percentile(99) * 1000,
			AllowedViolationRate: w.allowed, IdleSandboxSeconds: w.idleSeconds, IdleUSD: w.idleUSD, ExecUSD: w.execUSD, CostUSD: w.idleUSD + w.execUSD,
			StartupSandboxSeconds: w.startupSeconds}
		if wr.Invocations > 0 {
			wr.QoSViolationRate = float64(w.violations) / float64(wr.Invocations)
			wr.WarmViolationRate = float64(w.warmViolations) / float64(wr.Invocations)
		}
		wr.MeetsQoS = wr.QoSViolationRate <= wr.AllowedViolationRate
		res.PerWorkflow = append(res.PerWorkflow, wr)
	}
	for k, c := range classes {
		c.Class = className(k)
		if c.Requests > 0 {
			c.ColdStartRate = float64(c.ColdStarts) / float64(c.Requests)
		}
		if total.idleSeconds > 0 {
			c.IdleShare = c.IdleSandboxSeconds / total.idleSeconds
		}
		res.PerClass = append(res.PerClass, c)
	}
	res.Decisions = total.decisions
	if total.decisions > 0 {
		res.PolicyMicrosPerDecision = float64(policyTime.Nanoseconds()) / float64(total.decisions) / 1000
	}
	res.AutoscalerCalls = total.scaleCalls
	return res
}

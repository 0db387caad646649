package prewarmsim

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/stats"
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
	// WallSeconds is how long the simulation of this policy took.
	WallSeconds float64 `json:"wallSeconds"`
}

// WorkflowResult is one sample workflow's figures under a policy, over
// all its instances.
type WorkflowResult struct {
	Workflow         string  `json:"workflow"`
	Stages           int     `json:"stages"`
	Invocations      int     `json:"invocations"`
	QoSViolationRate float64 `json:"qosViolationRate"`
	P99Ms            float64 `json:"p99Ms"`
	ColdArrivals     int     `json:"coldArrivals"`
	ColdArrivalP99Ms float64 `json:"coldArrivalP99Ms"`
}

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
	perDay := float64(len(g.arrivals)) * 1440 / float64(max(minutes, 1))
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
	// Results has one entry per policy, in the order asked.
	Results []Result `json:"results"`
}

// Run simulates each policy on cfg's trace and workflows.
func Run(ctx context.Context, cfg Config, policies []prewarm.PrewarmPolicy) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	groups, err := buildGroups(cfg)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Trace:       cfg.Trace.Source,
		Functions:   len(cfg.Trace.Functions),
		Minutes:     cfg.Trace.Minutes,
		Invocations: cfg.Trace.TotalInvocations(),
	}
	for _, w := range cfg.Workflows {
		rep.Workflows = append(rep.Workflows, w.Metadata.Name)
	}
	for _, g := range groups {
		if g.wf != nil {
			rep.Instances++
		}
	}
	for _, pol := range policies {
		res, err := runPolicy(ctx, cfg, groups, pol)
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// runPolicy simulates every group under pol, Parallelism at a time.
func runPolicy(ctx context.Context, cfg Config, groups []groupSpec, pol prewarm.PrewarmPolicy) (Result, error) {
	start := time.Now()
	stats := make([]groupStats, len(groups))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < cfg.Parallelism; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(groups) || ctx.Err() != nil {
					return
				}
				r, err := newRunner(cfg, &groups[i], pol)
				if err != nil {
					errs[i] = err
					continue
				}
				stats[i] = r.run()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("simulate %s: %w", pol.Name(), err)
	}
	for _, err := range errs {
		if err != nil {
			return Result{}, err
		}
	}
	res := Result{Policy: pol.Name()}
	var total groupStats
	var policyTime time.Duration
	byWorkflow := map[string]*workflowStats{}
	var names []string
	var classes [numClasses]ClassResult
	for i, s := range stats {
		c := &classes[classOf(&groups[i], cfg.Trace.Minutes)]
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
			w.latencies = append(w.latencies, s.latencies...)
			w.coldLatencies = append(w.coldLatencies, s.coldLatencies...)
			w.violations += s.violations
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
		total.latencies = append(total.latencies, s.latencies...)
		total.coldLatencies = append(total.coldLatencies, s.coldLatencies...)
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
	res.WorkflowInvocations = len(total.latencies)
	res.QoSViolations = total.violations
	if res.WorkflowInvocations > 0 {
		res.QoSViolationRate = float64(total.violations) / float64(res.WorkflowInvocations)
	}
	res.WorkflowP99Ms = p99(total.latencies) * 1000
	res.ColdArrivals = len(total.coldLatencies)
	res.ColdArrivalP99Ms = p99(total.coldLatencies) * 1000
	sort.Strings(names)
	for _, name := range names {
		w := byWorkflow[name]
		wr := WorkflowResult{Workflow: name, Stages: w.stages, Invocations: len(w.latencies), ColdArrivals: len(w.coldLatencies),
			P99Ms: p99(w.latencies) * 1000, ColdArrivalP99Ms: p99(w.coldLatencies) * 1000}
		if wr.Invocations > 0 {
			wr.QoSViolationRate = float64(w.violations) / float64(wr.Invocations)
		}
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
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// p99 sorts xs in place and returns its 99th percentile (package stats:
// nearest rank), 0 for none.
func p99(xs []float64) float64 {
	slices.Sort(xs)
	return stats.Sorted(xs, 99)
}

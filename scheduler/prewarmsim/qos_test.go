package prewarmsim

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// twoStagesWithin is the two-stage workflow of twoStages (200 ms stages
// in a row, 128 MiB functions: cold starts of 352.4 ms) named name, with a
// QoS of latency at p95.
func twoStagesWithin(t *testing.T, name, latency string) *workflow.Workflow {
	t.Helper()
	doc := strings.Replace(strings.Replace(twoStages, "name: two", "name: "+name, 1), "latency: 1s", "latency: "+latency, 1)
	w, err := workflow.Parse(name+".yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// everyQuarterHour is a day of one invocation about every 15 minutes
// (12 to 18): past keepalive-10m's keep-alive and aquatope's cold-start
// cost, each call finds the workflow cold unless its pools are kept for
// the QoS.
func everyQuarterHour(name string, offset float64) trace.Function {
	f := trace.Function{Name: name, ColdStart: time.Second}
	for k, at := 0, offset; at < 24*3600; k++ {
		f.Invocations = append(f.Invocations, trace.Invocation{Start: at, Duration: 0.1})
		at += 720 + float64((k*7919)%361)
	}
	return f
}

// TestQoSAwareSpendsWhereTheQoSBinds runs a workflow whose QoS absorbs a
// cold start (5 s) and one whose QoS does not (700 ms: about the warm
// p99) on calls a quarter of an hour apart: aquatope-qos must keep less
// idle than keepalive-10m on the first, and fewer violations than
// aquatope on the second.
func TestQoSAwareSpendsWhereTheQoSBinds(t *testing.T) {
	tr := &trace.Trace{Source: "quarter-hourly", Minutes: 24 * 60, Functions: []trace.Function{
		everyQuarterHour("slack-driver", 30), everyQuarterHour("tight-driver", 60),
	}}
	tr.Functions[0].Invocations = append(tr.Functions[0].Invocations, trace.Invocation{Start: 24*3600 - 10, Duration: 0.1}) // more calls: it drives the first workflow
	cfg := Config{Trace: tr, Workflows: []*workflow.Workflow{twoStagesWithin(t, "slack", "5s"), twoStagesWithin(t, "tight", "700ms")}, InstancesPerWorkflow: 1, Parallelism: 1}
	var policies []prewarm.PrewarmPolicy
	for _, name := range []string{"keepalive-10m", "aquatope", "aquatope-qos"} {
		p, err := prewarm.New(name)
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, p)
	}
	rep, err := Run(context.Background(), cfg, policies)
	if err != nil {
		t.Fatal(err)
	}
	get := func(policy, wf string) WorkflowResult {
		for _, r := range rep.Results {
			for _, w := range r.PerWorkflow {
				if r.Policy == policy && w.Workflow == wf {
					return w
				}
			}
		}
		t.Fatalf("no figures of %s under %s", wf, policy)
		return WorkflowResult{}
	}
	for _, policy := range []string{"keepalive-10m", "aquatope", "aquatope-qos"} {
		for _, wf := range []string{"slack", "tight"} {
			w := get(policy, wf)
			t.Logf("%s %s: %d invocations, violations %.3f (warm bound %.3f), idle %.0f s (%.2fx keepalive-10m), cost $%.6f",
				policy, wf, w.Invocations, w.QoSViolationRate, w.WarmViolationRate, w.IdleSandboxSeconds, w.IdleToKeepalive10m, w.CostUSD)
		}
	}
	for _, r := range rep.Results {
		for _, w := range r.PerWorkflow {
			// Every sandbox of these workflows starts in 352.4 ms.
			n := w.StartupSandboxSeconds / trace.ColdStartFor(128).Seconds()
			if n < 1 || math.Abs(n-math.Round(n)) > 1e-6 {
				t.Errorf("%s, %s: %v s spent starting sandboxes, want a whole number of cold starts", r.Policy, w.Workflow, w.StartupSandboxSeconds)
			}
		}
	}
	if len(rep.QoSPlans) != 2 || !rep.QoSPlans[0].Attainable || !rep.QoSPlans[1].Attainable {
		t.Fatalf("plans %+v: want both QoS attainable", rep.QoSPlans)
	}
	ka, qos := get("keepalive-10m", "slack"), get("aquatope-qos", "slack")
	if !(qos.IdleSandboxSeconds < 0.6*ka.IdleSandboxSeconds) || !qos.MeetsQoS || !qos.MeetsTarget {
		t.Errorf("slack QoS: aquatope-qos idle %.0f s, violations %.3f (meets target %v); keepalive-10m idle %.0f s: want at most 0.6x the idle and the QoS met",
			qos.IdleSandboxSeconds, qos.QoSViolationRate, qos.MeetsTarget, ka.IdleSandboxSeconds)
	}
	aq, qos := get("aquatope", "tight"), get("aquatope-qos", "tight")
	if !(qos.QoSViolationRate < aq.QoSViolationRate) || !qos.MeetsQoS {
		t.Errorf("tight QoS: aquatope-qos violations %.3f, aquatope's %.3f: want fewer, within 5%%", qos.QoSViolationRate, aq.QoSViolationRate)
	}
	if w := get("aquatope", "tight"); w.WarmViolationRate > w.AllowedViolationRate || w.WarmViolationRate != qos.WarmViolationRate {
		t.Errorf("tight QoS: warm bound %.3f under aquatope, %.3f under aquatope-qos: want the same, within the allowed %.3f", w.WarmViolationRate, qos.WarmViolationRate, w.AllowedViolationRate)
	}
}

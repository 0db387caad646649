package orchestrator

import (
	"log/slog"
	"testing"
	"time"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/workflow"
)

// TestQoSPlanInTheBackground: under aquatope-qos, a workflow's first
// invocations get no QoS plan (it is made in the background, never on
// their path); once made, it is the plan of the pools' measurements and
// the live planner plans the workflow's functions with its settings.
func TestQoSPlanInTheBackground(t *testing.T) {
	w, err := workflow.Parse("two.yaml", []byte(`apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: two}
spec:
  qos: {latency: 5s, percentile: 95}
  functions:
    a: {image: x, resources: {cpu: 500m, memory: 128Mi}}
    b: {image: x, resources: {cpu: 500m, memory: 128Mi}}
  stages:
    - {name: a, function: a}
    - {name: b, function: b, needs: [a]}
`))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := prewarm.New("aquatope-qos")
	if err != nil {
		t.Fatal(err)
	}
	live, err := prewarm.NewLive(pol, prewarm.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := &chainWarmer{policy: pol, live: live, qos: map[string]*qosPlanEntry{}, log: slog.Default()}
	d := &Deployment{Tenant: "t", Name: "two", Revision: 1, Workflow: w}
	pools := map[string]decide.ChainPool{"a": {MeanExec: 200 * time.Millisecond, ColdStart: 400 * time.Millisecond}, "b": {MeanExec: 200 * time.Millisecond, ColdStart: 400 * time.Millisecond}}
	if p := c.qosPlan(d, pools, nil); p != nil {
		t.Fatalf("first invocation: plan %+v, want none yet", p)
	}
	var plan *prewarm.QoSPlan
	for deadline := time.Now().Add(10 * time.Second); plan == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		plan = c.qosPlan(d, pools, nil)
	}
	if plan == nil {
		t.Fatal("no QoS plan was made")
	}
	// Two 200 ms stages and 400 ms cold starts in a 5 s QoS: every cold
	// start fits, nothing is chain-warmed, the settings are frugal.
	if !plan.Attainable || plan.ChainWarm[1] || prewarm.ChainWarmsStage(pol, plan, 1) {
		t.Errorf("plan %+v: want attainable and b not chain-warmed", plan)
	}
	fa := plan.Function("a")
	got, err := live.Decide(FunctionKey("t", "two", "a"), time.Now(), prewarm.Stats{})
	if err != nil {
		t.Fatal(err)
	}
	if fa == nil || got.KeepAlive != fa.KeepAlive || fa.KeepAlive == prewarm.AquatopeKeepAlive {
		t.Errorf("live keep-alive of a %v, plan %+v: want the plan's, not aquatope's own", got.KeepAlive, fa)
	}
	// A new revision has no plan until its own is made.
	d2 := *d
	d2.Revision = 2
	if p := c.qosPlan(&d2, pools, nil); p != nil {
		t.Errorf("new revision: plan of the old one")
	}
	// A removed workflow leaves nothing behind, even with its plan being
	// made as it goes (Undeploy forgets it in the warmer and the live
	// planner): a plan finished after that is dropped, not handed to the
	// live planner.
	c.mu.Lock()
	e := c.qos["t/two"]
	c.mu.Unlock()
	c.forget("t", "two")
	for _, fn := range []string{"a", "b"} {
		live.Forget(FunctionKey("t", "two", fn))
	}
	c.refreshQoSPlan(&d2, pools, nil, e)
	c.mu.Lock()
	held := len(c.qos)
	c.mu.Unlock()
	if held != 0 {
		t.Errorf("after forget: %d plans held", held)
	}
	got, err = live.Decide(FunctionKey("t", "two", "a"), time.Now(), prewarm.Stats{})
	if err != nil {
		t.Fatal(err)
	}
	if got.KeepAlive != prewarm.AquatopeKeepAlive {
		t.Errorf("after forget, live keep-alive of a %v: a plan finished late was handed to the live planner", got.KeepAlive)
	}
}

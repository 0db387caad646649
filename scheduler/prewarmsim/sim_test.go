package prewarmsim

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// tinyTrace is one function, cold start 1 s, three minutes, invoked at
// 10 s (runs 2 s), 20 s (2 s) and 100 s (1 s).
func tinyTrace() *trace.Trace {
	return &trace.Trace{Source: "tiny", Minutes: 3, Functions: []trace.Function{{
		Name: "f", ColdStart: time.Second,
		Invocations: []trace.Invocation{{Start: 10, Duration: 2}, {Start: 20, Duration: 2}, {Start: 100, Duration: 1}},
	}}}
}

// testPolicy decides the same every interval, with an optional lead and
// chain warming.
type testPolicy struct {
	d     prewarm.Decision
	lead  time.Duration
	chain bool
}

func (p testPolicy) Name() string       { return "test" }
func (p testPolicy) ChainWarming() bool { return p.chain }
func (p testPolicy) NewPlanner(prewarm.Function) (prewarm.Planner, error) {
	return testPlanner{p}, nil
}

type testPlanner struct{ p testPolicy }

func (t testPlanner) Observe(int, int)          {}
func (t testPlanner) Plan(int) prewarm.Decision { return t.p.d }
func (t testPlanner) Lead() time.Duration       { return t.p.lead }

// TestTinyTraceByHand checks the simulator's accounting against results
// worked out by hand.
func TestTinyTraceByHand(t *testing.T) {
	tests := []struct {
		name    string
		policy  prewarm.PrewarmPolicy
		cold    int64
		idle    float64
		created int64
		coldMs  float64
	}{
		// 10 s: no sandbox, queue, create, ready at 11 (cold, 1 s wait),
		// done at 13, idle. 20 s: warm (idle 13→20 = 7 s), done at 22.
		// The autoscaler deletes it at 22+30 = 52 (its 30 s stable window
		// saw no demand): idle 30 s. 100 s: cold again, ready at 101, done
		// at 102, deleted at 132: idle 30 s. Total idle 67 s.
		{"keep-alive 30s", testPolicy{d: prewarm.Decision{KeepAlive: 30 * time.Second}}, 2, 67, 2, 1000},
		// Scale to zero at once: every invocation is cold, no idle time.
		{"none", prewarm.KeepAlive{}, 3, 0, 3, 1000},
		// Floor 1 from t = 0: ready at 1, idle 1→10, 12→20, 22→100 and
		// 101→180 (the trace's end): 9 + 8 + 78 + 79 = 174 s, never cold.
		{"floor 1", testPolicy{d: prewarm.Decision{Floor: 1}}, 0, 174, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Config{Trace: tinyTrace(), Parallelism: 1}, []prewarm.PrewarmPolicy{tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Results[0]
			if r.Requests != 3 || r.ColdStarts != tt.cold || r.SandboxesCreated != tt.created {
				t.Errorf("requests %d, cold %d, created %d; want 3, %d, %d", r.Requests, r.ColdStarts, r.SandboxesCreated, tt.cold, tt.created)
			}
			if math.Abs(r.IdleSandboxSeconds-tt.idle) > 1e-6 {
				t.Errorf("idle %.9f sandbox-seconds, want %v", r.IdleSandboxSeconds, tt.idle)
			}
			if math.Abs(r.MeanColdWaitMs-tt.coldMs) > 1e-6 {
				t.Errorf("mean cold wait %v ms, want %v", r.MeanColdWaitMs, tt.coldMs)
			}
			if r.Decisions != 3 {
				t.Errorf("%d decisions, want 3 (one per minute)", r.Decisions)
			}
		})
	}
}

const twoStages = `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: two}
spec:
  qos: {latency: 1s, percentile: 95}
  functions:
    a: {image: x, resources: {cpu: 1000m, memory: 128Mi}}
    b: {image: x, resources: {cpu: 1000m, memory: 128Mi}}
  stages:
    - {name: a, function: a}
    - {name: b, function: b, needs: [a]}
`

// TestChainWarmingByHand runs one invocation of a two-stage workflow (each
// stage 200 ms, each function a 128 MiB cold start of 352.4 ms) at t = 10.
func TestChainWarmingByHand(t *testing.T) {
	w, err := workflow.Parse("two.yaml", []byte(twoStages))
	if err != nil {
		t.Fatal(err)
	}
	cs := trace.ColdStartFor(128).Seconds()
	tr := &trace.Trace{Source: "one invocation", Minutes: 2, Functions: []trace.Function{{
		Name: "driver", ColdStart: time.Second, Invocations: []trace.Invocation{{Start: 10, Duration: 1}},
	}}}
	tests := []struct {
		name       string
		chain      bool
		latency    float64
		cold       int64
		violations int
	}{
		// a: cold (ready at 10+cs), runs to 10+cs+0.2; b: cold again.
		{"no chain warming", false, 2*cs + 0.4, 2, 1},
		// b's sandbox starts at 10 + cs (a's expected wait) + 0.2 (a's
		// run) − cs (b's cold start), ready exactly when a finishes.
		{"chain warming", true, cs + 0.4, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Trace: tr, Workflows: []*workflow.Workflow{w}, InstancesPerWorkflow: 1, StageSigma: 1e-12, Parallelism: 1}
			pol := testPolicy{d: prewarm.Decision{KeepAlive: time.Minute}, chain: tt.chain}
			rep, err := Run(context.Background(), cfg, []prewarm.PrewarmPolicy{pol})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Results[0]
			if rep.Instances != 1 || r.WorkflowInvocations != 1 || r.Requests != 2 {
				t.Fatalf("instances %d, invocations %d, requests %d; want 1, 1, 2", rep.Instances, r.WorkflowInvocations, r.Requests)
			}
			if math.Abs(r.WorkflowP99Ms-tt.latency*1000) > SketchRelativeError*tt.latency*1000 || r.ColdStarts != tt.cold || r.QoSViolations != tt.violations {
				t.Errorf("latency %.4f ms, cold %d, violations %d; want %.4f, %d, %d", r.WorkflowP99Ms, r.ColdStarts, r.QoSViolations, tt.latency*1000, tt.cold, tt.violations)
			}
			if r.ColdArrivals != 1 {
				t.Errorf("%d cold arrivals, want 1", r.ColdArrivals)
			}
		})
	}
}

// TestChainWarmingClaimsPerInvocation runs three invocations of the
// two-stage workflow arriving together to a cold workflow: each is warmed
// its own sandbox of b (the claims of the others count as taken), so all
// three run b warm, as the one invocation of TestChainWarmingByHand does.
func TestChainWarmingClaimsPerInvocation(t *testing.T) {
	w, err := workflow.Parse("two.yaml", []byte(twoStages))
	if err != nil {
		t.Fatal(err)
	}
	cs := trace.ColdStartFor(128).Seconds()
	burst := []trace.Invocation{{Start: 10, Duration: 1}, {Start: 10, Duration: 1}, {Start: 10, Duration: 1}}
	tr := &trace.Trace{Source: "a burst", Minutes: 2, Functions: []trace.Function{{Name: "driver", ColdStart: time.Second, Invocations: burst}}}
	cfg := Config{Trace: tr, Workflows: []*workflow.Workflow{w}, InstancesPerWorkflow: 1, StageSigma: 1e-12, Parallelism: 1}
	rep, err := Run(context.Background(), cfg, []prewarm.PrewarmPolicy{testPolicy{d: prewarm.Decision{KeepAlive: time.Minute}, chain: true}})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.WorkflowInvocations != 3 || r.ColdArrivals != 3 {
		t.Fatalf("%d invocations, %d cold arrivals; want 3, 3", r.WorkflowInvocations, r.ColdArrivals)
	}
	if math.Abs(r.WorkflowP99Ms-(cs+0.4)*1000) > SketchRelativeError*(cs+0.4)*1000 || r.ColdStarts != 3 || r.ChainWarmed != 3 {
		t.Errorf("p99 %.4f ms, %d cold starts, %d chain-warmed; want %.4f, 3 (a's), 3 (one b each)", r.WorkflowP99Ms, r.ColdStarts, r.ChainWarmed, (cs+0.4)*1000)
	}
}

// TestEveryPolicyOnSyntheticTrace runs all policies on a small synthetic
// trace with the sample-like workflow and checks the books balance.
func TestEveryPolicyOnSyntheticTrace(t *testing.T) {
	tr, err := trace.Synthetic(trace.SyntheticOptions{Functions: 60, Minutes: 90, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	w, pols := twoStagesAndEveryPolicy(t)
	cfg := Config{Trace: tr, Workflows: []*workflow.Workflow{w}, InstancesPerWorkflow: 3, Seed: 1}
	rep, err := Run(context.Background(), cfg, pols)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Run(context.Background(), cfg, pols)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rep.Results {
		if r.ColdStarts > r.Requests || r.IdleSandboxSeconds < 0 || r.SandboxesCreated < r.ColdStarts/100 {
			t.Errorf("%s: inconsistent %+v", r.Policy, r)
		}
		a := again.Results[i]
		if a.Requests != r.Requests || a.ColdStarts != r.ColdStarts || a.IdleSandboxSeconds != r.IdleSandboxSeconds {
			t.Errorf("%s: not deterministic: %+v then %+v", r.Policy, r, a)
		}
		// The classes split the totals: every function in one class.
		var groups int
		var requests, cold int64
		var idle, share float64
		for _, c := range r.PerClass {
			groups += c.Groups
			requests += c.Requests
			cold += c.ColdStarts
			idle += c.IdleSandboxSeconds
			share += c.IdleShare
		}
		if groups != 60 || requests != r.Requests || cold != r.ColdStarts || math.Abs(idle-r.IdleSandboxSeconds) > 1e-6*r.IdleSandboxSeconds+1e-9 ||
			(r.IdleSandboxSeconds > 0 && math.Abs(share-1) > 1e-9) {
			t.Errorf("%s: classes sum to %d groups (want 60: 57 functions, 3 instances), %d requests, %d cold, %.1f idle, share %.6f; totals %d, %d, %.1f",
				r.Policy, groups, requests, cold, idle, share, r.Requests, r.ColdStarts, r.IdleSandboxSeconds)
		}
	}
	byName := map[string]Result{}
	for _, r := range rep.Results {
		byName[r.Policy] = r
	}
	if byName["none"].ColdStartRate <= byName["keepalive-10m"].ColdStartRate {
		t.Errorf("scale-to-zero cold rate %.4f not above keepalive-10m's %.4f", byName["none"].ColdStartRate, byName["keepalive-10m"].ColdStartRate)
	}
	if byName["aquatope"].ChainWarmed == 0 || byName["aquatope-nochain"].ChainWarmed != 0 {
		t.Errorf("chain warmed %d with chain, %d without", byName["aquatope"].ChainWarmed, byName["aquatope-nochain"].ChainWarmed)
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "hybrid-histogram") || !strings.Contains(table.String(), "WORKFLOWS (3)") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	if err := rep.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"coldStartRate"`) {
		t.Errorf("json: %v\n%s", err, js.String())
	}
}

func TestConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no trace", Config{}},
		{"bad fanout", Config{Trace: tinyTrace(), Fanout: -1}},
		{"short interval", Config{Trace: tinyTrace(), Interval: time.Millisecond}},
	}
	for _, tt := range tests {
		if _, err := Run(context.Background(), tt.cfg, []prewarm.PrewarmPolicy{prewarm.KeepAlive{}}); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestDemandWindow(t *testing.T) {
	var d demandWindow
	d.record(0, 0)
	d.record(10, 2) // 2 from 10 s
	d.record(20, 0) // back to 0 at 20 s
	tests := []struct {
		now, window, want float64
	}{{20, 10, 2}, {25, 10, 1}, {30, 20, 1}, {40, 10, 0}, {25, 1e-6, 0}}
	for _, tt := range tests {
		if got := d.mean(tt.now, tt.window, stableWindow); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("mean(%v, %v) = %v, want %v", tt.now, tt.window, got, tt.want)
		}
	}
}

// TestDemandWindowHints checks the means found from the hints, as the
// autoscaler asks for them (now moving on, demand changing at random,
// several changes at an instant, the stable window changing now and then),
// against those found by binary search alone: the same, exactly.
func TestDemandWindowHints(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var d demandWindow
	now, stable := 0.0, 60.0
	for range 20000 {
		if rng.IntN(4) > 0 {
			now += rng.ExpFloat64() * 0.05
		}
		d.record(now, float64(rng.IntN(20)))
		if rng.IntN(500) == 0 {
			stable = []float64{60, 30, 10, 1e-9}[rng.IntN(4)]
		}
		for _, w := range []struct {
			which  int
			window float64
		}{{stableWindow, stable}, {panicWindow, 6}} {
			got := d.mean(now, w.window, w.which)
			want := d.steps[len(d.steps)-1].level
			if w.window >= 1e-3 {
				want = (d.integral(now, nil) - d.integral(now-w.window, nil)) / w.window
			}
			if got != want {
				t.Fatalf("at %v, window %v: mean %v from the hint, %v by search", now, w.window, got, want)
			}
		}
	}
	if d.head == 0 {
		t.Errorf("the history was never dropped")
	}
}

// TestShortCallsQueueBehindBusySandboxes checks that the simulator gives
// the autoscaler the pool's measured times, as the orchestrator does: a
// call far shorter than a cold start waits for a busy sandbox instead of
// starting one, unless it has waited a whole cold start. Cold start 1 s;
// a floor of one sandbox, warm from t = 1.
func TestShortCallsQueueBehindBusySandboxes(t *testing.T) {
	short := func(at float64) trace.Invocation { return trace.Invocation{Start: at, Duration: 0.01} }
	tests := []struct {
		name          string
		invocations   []trace.Invocation
		created, cold int64
		queued        int64
	}{
		// At 10 three calls of 10 ms: one runs on the warm sandbox, the
		// other two queue behind it (100 turns of it fit in a cold start).
		{"burst of short calls", []trace.Invocation{short(10), short(10), short(10)}, 1, 0, 2},
		// At 10 a call of 3 s, at 10.01 a short one; ten more short ones
		// later bring the mean to 0.26 s. The short one waits for the busy
		// sandbox until it has waited a cold start (11.01), then gets its
		// own, ready at 12.01: cold, where waiting for the long call would
		// have taken until 13.
		{"a call stuck behind a long one", append([]trace.Invocation{{Start: 10, Duration: 3}, short(10.01)},
			short(50), short(51), short(52), short(53), short(54), short(55), short(56), short(57), short(58), short(59)), 2, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &trace.Trace{Source: tt.name, Minutes: 2, Functions: []trace.Function{{Name: "f", ColdStart: time.Second, Invocations: tt.invocations}}}
			pol := testPolicy{d: prewarm.Decision{Floor: 1, KeepAlive: 30 * time.Second}}
			rep, err := Run(context.Background(), Config{Trace: tr, Parallelism: 1}, []prewarm.PrewarmPolicy{pol})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Results[0]
			if r.SandboxesCreated != tt.created || r.ColdStarts != tt.cold || r.Queued != tt.queued {
				t.Errorf("created %d, cold %d, queued %d; want %d, %d, %d", r.SandboxesCreated, r.ColdStarts, r.Queued, tt.created, tt.cold, tt.queued)
			}
		})
	}
}

// TestClassOf puts trace functions in classes by calls a day, whatever the
// trace's length, and workflow instances apart.
func TestClassOf(t *testing.T) {
	calls := func(n int) *groupSpec { return &groupSpec{calls: n} }
	tests := []struct {
		g       *groupSpec
		minutes int
		want    string
	}{
		{calls(0), 1440, "< 10/day"},
		{calls(9), 1440, "< 10/day"},
		{calls(10), 1440, "10-100/day"},
		{calls(99), 1440, "10-100/day"},
		{calls(100), 1440, "100-1k/day"},
		{calls(5000), 1440, "1k-10k/day"},
		{calls(10000), 1440, ">= 10k/day"},
		{calls(1e6), 1440, ">= 10k/day"},
		{calls(10), 720, "10-100/day"}, // 20 a day
		{calls(1), 60, "10-100/day"},   // 24 a day
		{&groupSpec{wf: &workflowModel{}, calls: 5}, 1440, "workflows"},
	}
	for _, tt := range tests {
		if got := className(classOf(tt.g, tt.minutes)); got != tt.want {
			t.Errorf("%d calls in %d minutes (workflow %v): class %s, want %s", tt.g.calls, tt.minutes, tt.g.wf != nil, got, tt.want)
		}
	}
}

// twoStagesAndEveryPolicy returns the two-stage workflow and every policy.
func twoStagesAndEveryPolicy(t *testing.T) (*workflow.Workflow, []prewarm.PrewarmPolicy) {
	t.Helper()
	w, err := workflow.Parse("two.yaml", []byte(twoStages))
	if err != nil {
		t.Fatal(err)
	}
	pols, err := prewarm.Parse("all")
	if err != nil {
		t.Fatal(err)
	}
	return w, pols
}

package prewarm

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// pipeline is a workflow of n stages in a row, each its own function,
// 200 ms a call (sigma 0.3) and a cold start of coldStart, with a QoS of
// latency at p95.
func pipeline(n int, latency, coldStart time.Duration) WorkflowShape {
	w := WorkflowShape{Name: "pipe", Latency: latency, Percentile: 95}
	for i := range n {
		s := StageShape{Name: string(rune('a' + i)), Function: "fn-" + string(rune('a'+i)), Width: 1, Median: 200 * time.Millisecond, Sigma: 0.3, ColdStart: coldStart}
		if i > 0 {
			s.Needs = []int{i - 1}
		}
		w.Stages = append(w.Stages, s)
	}
	return w
}

func TestPlanQoSSpendsWhereTheQoSIsTight(t *testing.T) {
	// Three stages of 200 ms: about 650 ms at p95 warm. A 5 s QoS absorbs
	// any cold start; a 1 s one absorbs none of 500 ms.
	slack, err := PlanQoS(pipeline(3, 5*time.Second, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	tight, err := PlanQoS(pipeline(3, time.Second, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []QoSPlan{slack, tight} {
		if !p.Attainable || p.WarmViolationRate > 0.05 || p.Slack <= 0 {
			t.Errorf("%s: attainable %v, warm violations %v, slack %v: want attainable with slack", p.Workflow, p.Attainable, p.WarmViolationRate, p.Slack)
		}
		if p.WarmLatency < 500*time.Millisecond || p.WarmLatency > 900*time.Millisecond {
			t.Errorf("warm p95 %v, want about 650 ms", p.WarmLatency)
		}
	}
	for k, f := range slack.Functions {
		g := tight.Functions[k]
		if f.Cost != 0 || f.ColdStartCost != qosMinColdStartCost || f.Quantile != AquatopeQuantile || f.Concurrency != 0.5 {
			t.Errorf("slack QoS, %s: cost %v, cold-start cost %v, quantile %v, in-flight quantile %v: want the frugal settings", f.Function, f.Cost, f.ColdStartCost, f.Quantile, f.Concurrency)
		}
		if !(g.Cost > 1) || g.ColdStartCost <= f.ColdStartCost || g.KeepAlive <= f.KeepAlive || g.Quantile <= f.Quantile || g.Concurrency != defaultConcurrency {
			t.Errorf("tight QoS, %s: %+v against the slack QoS's %+v: want a cost past the budget and every setting more lavish", g.Function, g, f)
		}
	}
	if want := []bool{false, false, false}; !reflect.DeepEqual(slack.ChainWarm, want) {
		t.Errorf("slack QoS chain-warms %v, want %v: its cold starts fit in the slack", slack.ChainWarm, want)
	}
	if want := []bool{false, true, true}; !reflect.DeepEqual(tight.ChainWarm, want) {
		t.Errorf("tight QoS chain-warms %v, want %v", tight.ChainWarm, want)
	}
}

func TestPlanQoSMoreAggressiveAsTheQoSTightens(t *testing.T) {
	prev := QoSPlan{}
	for k, latency := range []time.Duration{10 * time.Second, 1500 * time.Millisecond, 1200 * time.Millisecond, 1100 * time.Millisecond, 900 * time.Millisecond} {
		p, err := PlanQoS(pipeline(3, latency, 500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if k > 0 {
			f, g := prev.Functions[0], p.Functions[0]
			if g.Cost < f.Cost || g.ColdStartCost < f.ColdStartCost || g.KeepAlive < f.KeepAlive || g.Quantile < f.Quantile || g.Concurrency < f.Concurrency {
				t.Errorf("QoS %v: first function %+v, less lavish than at the looser QoS (%+v)", latency, g, f)
			}
			if p.Budget > prev.Budget {
				t.Errorf("QoS %v: budget %v, more than the looser QoS's %v", latency, p.Budget, prev.Budget)
			}
		}
		prev = p
	}
}

func TestPlanQoSUnattainable(t *testing.T) {
	// Ten stages of 200 ms in a row never make 1 s.
	p, err := PlanQoS(pipeline(10, time.Second, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if p.Attainable || p.Budget != 0 || p.WarmViolationRate < 0.99 || p.Slack >= 0 {
		t.Fatalf("plan %+v: want unattainable, no budget, every warm invocation late, negative slack", p)
	}
	aquatope := FunctionQoS{ColdStartCost: AquatopeColdStartCost, KeepAlive: AquatopeKeepAlive, Quantile: AquatopeQuantile, Concurrency: defaultConcurrency}
	for _, f := range p.Functions {
		// Every invocation is late warm already: a cold start adds none.
		if f.Cost != 0 {
			t.Errorf("%s: cost %v, want 0: every invocation is late already", f.Function, f.Cost)
		}
	}
	// Just past attainable: the cold starts add violations, with no budget.
	q, err := PlanQoS(pipeline(3, 700*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if q.Attainable || q.Budget != 0 {
		t.Fatalf("QoS at about the warm p90: attainable %v, budget %v (warm violations %v): want unattainable", q.Attainable, q.Budget, q.WarmViolationRate)
	}
	for _, f := range q.Functions {
		if !math.IsInf(f.Cost, 1) {
			t.Errorf("%s: cost %v, want +Inf", f.Function, f.Cost)
		}
	}
	// Either way aquatope's own settings and chain warming: idle spent
	// would buy no QoS.
	for _, plan := range []QoSPlan{p, q} {
		for _, f := range plan.Functions {
			got := f
			got.Function, got.ColdViolationRate, got.Cost, got.Batch, got.Calls = "", 0, 0, 0, 0
			if got != aquatope {
				t.Errorf("%s: settings %+v, want aquatope's %+v", f.Function, got, aquatope)
			}
		}
		if want := []bool{false, true, true}; !reflect.DeepEqual(plan.ChainWarm[:3], want) {
			t.Errorf("chain-warms %v, want every later stage", plan.ChainWarm)
		}
	}
}

func TestPlanQoSForeachAndShared(t *testing.T) {
	// A fan-out of 4 at 2 at a time, and one function called by two
	// stages: the plan has one entry per function, one chain flag per stage.
	w := WorkflowShape{Name: "fan", Latency: 2 * time.Second, Percentile: 99, Stages: []StageShape{
		{Name: "split", Function: "split", Width: 1, Median: 100 * time.Millisecond, Sigma: 0.2, ColdStart: time.Second},
		{Name: "map", Function: "work", Needs: []int{0}, Width: 4, Parallel: 2, Median: 150 * time.Millisecond, Sigma: 0.2, ColdStart: time.Second},
		{Name: "reduce", Function: "work", Needs: []int{1}, Width: 1, Median: 100 * time.Millisecond, Sigma: 0.2, ColdStart: time.Second},
	}}
	p, err := PlanQoS(w)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Functions) != 2 || len(p.ChainWarm) != 3 || p.Function("work") == nil || p.Function("nope") != nil {
		t.Fatalf("plan %+v: want two functions and three stages", p)
	}
	// Warm: 100 + 2×150 + 100 ms; a second's cold start fits in 2 s once.
	if p.WarmLatency < 400*time.Millisecond || p.WarmLatency > 700*time.Millisecond {
		t.Errorf("warm p99 %v, want about 500 ms", p.WarmLatency)
	}
	if p.ChainWarm[0] {
		t.Errorf("a first stage is never chain-warmed")
	}
	a, b := p, QoSPlan{}
	if b, err = PlanQoS(w); err != nil || !reflect.DeepEqual(a, b) {
		t.Errorf("PlanQoS is not deterministic: %+v then %+v (%v)", a, b, err)
	}
}

func TestPlanQoSBadInput(t *testing.T) {
	ok := pipeline(2, time.Second, time.Second)
	for _, tt := range []struct {
		name   string
		change func(*WorkflowShape)
		want   string
	}{
		{"no latency", func(w *WorkflowShape) { w.Latency = 0 }, "latency > 0"},
		{"percentile 100", func(w *WorkflowShape) { w.Percentile = 100 }, "percentile in (0, 100)"},
		{"percentile NaN", func(w *WorkflowShape) { w.Percentile = math.NaN() }, "percentile in (0, 100)"},
		{"no stages", func(w *WorkflowShape) { w.Stages = nil }, "no stages"},
		{"width 0", func(w *WorkflowShape) { w.Stages[0].Width = 0 }, "width ≥ 1"},
		{"negative cold start", func(w *WorkflowShape) { w.Stages[1].ColdStart = -time.Second }, "times ≥ 0"},
		{"infinite sigma", func(w *WorkflowShape) { w.Stages[1].Sigma = math.Inf(1) }, "times ≥ 0"},
		{"no function", func(w *WorkflowShape) { w.Stages[1].Function = "" }, "want a function"},
		{"unknown need", func(w *WorkflowShape) { w.Stages[1].Needs = []int{7} }, "needs stage 7"},
		{"itself", func(w *WorkflowShape) { w.Stages[1].Needs = []int{1} }, "needs stage 1"},
		{"cycle", func(w *WorkflowShape) { w.Stages[0].Needs = []int{1} }, "cycle"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := ok
			w.Stages = append([]StageShape(nil), ok.Stages...)
			tt.change(&w)
			_, err := PlanQoS(w)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PlanQoS: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestAquatopeQoSTakesTheFunctionsSettings(t *testing.T) {
	pol, err := New("aquatope-qos")
	if err != nil {
		t.Fatal(err)
	}
	if pol.Name() != "aquatope-qos" || !pol.ChainWarming() {
		t.Fatalf("New(aquatope-qos) = %s, chain %v", pol.Name(), pol.ChainWarming())
	}
	f := Function{Name: "f", ColdStart: time.Second, MeanDuration: 100 * time.Millisecond, QoS: &FunctionQoS{Function: "f", ColdStartCost: time.Minute, KeepAlive: 30 * time.Second, Quantile: 0.5}}
	pl, err := pol.NewPlanner(f)
	if err != nil {
		t.Fatal(err)
	}
	pl.Observe(0, 10)
	if d := pl.Plan(2); d.KeepAlive != 30*time.Second {
		t.Errorf("with the QoS's settings: keep-alive %v, want 30s", d.KeepAlive)
	}
	f.QoS = nil
	if pl, err = pol.NewPlanner(f); err != nil {
		t.Fatal(err)
	}
	pl.Observe(0, 10)
	if d := pl.Plan(2); d.KeepAlive != AquatopeKeepAlive {
		t.Errorf("without a QoS: keep-alive %v, want aquatope's %v", d.KeepAlive, AquatopeKeepAlive)
	}
	plan := &QoSPlan{ChainWarm: []bool{false, true, false}}
	aq, _ := New("aquatope")
	for _, tt := range []struct {
		policy PrewarmPolicy
		plan   *QoSPlan
		want   []bool
	}{
		{pol, plan, []bool{false, true, false}},
		{pol, nil, []bool{true, true, true}},
		{aq, plan, []bool{true, true, true}},
		{KeepAlive{Duration: time.Minute}, plan, []bool{false, false, false}},
	} {
		var got []bool
		for s := range 3 {
			got = append(got, ChainWarmsStage(tt.policy, tt.plan, s))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s with plan %v: chain-warms %v, want %v", tt.policy.Name(), tt.plan != nil, got, tt.want)
		}
	}
}

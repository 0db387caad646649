package prewarm

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// recordingPolicy makes planners that record every call and decide
// Floor = 10·i + 1 for interval i, so the decision in force names its
// interval. A fake, named so: it tests Live's bookkeeping.
type recordingPolicy struct {
	lead  time.Duration
	calls *[]string
}

func (p recordingPolicy) Name() string       { return "recording" }
func (p recordingPolicy) ChainWarming() bool { return false }
func (p recordingPolicy) NewPlanner(f Function) (Planner, error) {
	*p.calls = append(*p.calls, fmt.Sprintf("new(%s, %v)", f.Name, f.Interval))
	return recordingPlanner(p), nil
}

type recordingPlanner recordingPolicy

func (p recordingPlanner) Observe(i, n int) {
	*p.calls = append(*p.calls, fmt.Sprintf("observe(%d, %d)", i, n))
}

func (p recordingPlanner) Plan(i int) Decision {
	*p.calls = append(*p.calls, fmt.Sprintf("plan(%d)", i))
	return Decision{Floor: 10*i + 1, KeepAlive: time.Duration(i) * time.Second}
}

func (p recordingPlanner) Lead() time.Duration { return p.lead }

// TestLiveFollowsThePlannerContract drives Live through a sequence of
// autoscaler ticks and records what the planner was asked and what floor
// was in force.
func TestLiveFollowsThePlannerContract(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var calls []string
	l, err := NewLive(recordingPolicy{lead: 2 * time.Second, calls: &calls}, LiveOptions{Interval: 10 * time.Second, Epoch: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at        float64
		arrivals  uint64
		wantFloor int
		wantCalls string
	}{
		{0, 100, 1, "new(f, 10s) plan(0)"}, // arrivals before the first sight are not counted
		{5, 107, 1, ""},                    // within interval 0
		{8.5, 109, 11, "plan(1)"},          // a lead before interval 1: both decisions hold
		{9.5, 110, 11, ""},                 // planned once
		{10.1, 110, 11, "observe(0, 10)"},  // interval 0 saw 10 arrivals; 1's plan takes over
		{35, 113, 31, "observe(1, 3) plan(2) observe(2, 0) plan(3)"}, // two boundaries passed between ticks
		{38, 113, 41, "plan(4)"},
		{41, 2, 41, "observe(3, 2)"}, // the pool was made again: its count restarted at 0
	} {
		calls = calls[:0]
		d, err := l.Decide("f", at(step.at), Stats{Arrivals: step.arrivals})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(calls, " "); got != step.wantCalls || d.Floor != step.wantFloor {
			t.Errorf("t=%gs: calls %q floor %d, want %q floor %d", step.at, got, d.Floor, step.wantCalls, step.wantFloor)
		}
	}
}

// TestLiveCountsEachFunctionFromItsFirstSight: a function first seen late
// starts at its planner's interval 0, not at the global interval number.
func TestLiveCountsEachFunctionFromItsFirstSight(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var calls []string
	l, err := NewLive(recordingPolicy{calls: &calls}, LiveOptions{Interval: time.Minute, Epoch: t0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Decide("late", t0.Add(90*time.Minute), Stats{Arrivals: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Decide("late", t0.Add(91*time.Minute), Stats{Arrivals: 8}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"new(late, 1m0s)", "plan(0)", "observe(0, 3)", "plan(1)"}; !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
}

func TestNewLiveRefusesTheOracleAndBadOptions(t *testing.T) {
	if _, err := NewLive(Oracle{}, LiveOptions{}); err == nil || !strings.Contains(err.Error(), "simulation only") {
		t.Errorf("oracle: err %v, want it refused", err)
	}
	if _, err := NewLive(KeepAlive{}, LiveOptions{Interval: -time.Second}); err == nil {
		t.Error("a negative interval was accepted")
	}
}

// TestLiveAquatopeFollowsMeasuredTimes: with the real aquatope planner, a
// steady arrival rate gives a floor that grows with the measured mean
// execution time (the 99th percentile of Poisson concurrency at the
// Little's-law mean), and the lead follows the cold start.
func TestLiveAquatopeFollowsMeasuredTimes(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	l, err := NewLive(Aquatope{}, LiveOptions{Interval: 10 * time.Second, Epoch: t0})
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	clock := t0
	floorAt := func(k int, exec time.Duration) int {
		var d Decision
		for range 10 * k { // k intervals, a tick a second, 20 arrivals a second
			total += 20
			clock = clock.Add(time.Second)
			var err error
			d, err = l.Decide("f", clock, Stats{Arrivals: total, ColdStart: time.Second, MeanExec: exec})
			if err != nil {
				t.Fatal(err)
			}
		}
		return d.Floor
	}
	short := floorAt(200, 100*time.Millisecond) // 200 a 10 s interval × 0.1 s / 10 s = 2 busy on average
	long := floorAt(20, time.Second)            // × 1 s: 20 busy on average
	// Poisson(2)'s 99th percentile is 6 and Poisson(20)'s 31; the
	// forecast's upper quantile of arrivals adds a little.
	if short < 6 || short > 8 {
		t.Errorf("floor %d at 20 arrivals/s of 100 ms, want 6-8", short)
	}
	if long < 31 || long > 38 {
		t.Errorf("floor %d at 20 arrivals/s of 1 s, want 31-38", long)
	}
}

// TestLiveTakesTheQoSSettings: aquatope-qos plans a function with the
// settings SetQoS gives it, from the next interval it plans on.
func TestLiveTakesTheQoSSettings(t *testing.T) {
	l, t0 := newQoSLive(t)
	frugal := &FunctionQoS{Function: "t/wf/f", ColdStartCost: time.Minute, KeepAlive: 30 * time.Second, Quantile: 0.5}
	lavish := &FunctionQoS{Function: "t/wf/f", ColdStartCost: 2 * time.Hour, KeepAlive: time.Hour, Quantile: 0.95}
	for k, step := range []struct {
		qos  *FunctionQoS
		want time.Duration
	}{
		{nil, AquatopeKeepAlive}, // no QoS: aquatope's own
		{frugal, 30 * time.Second},
		{frugal, 30 * time.Second},
		{lavish, time.Hour},
		{nil, AquatopeKeepAlive},
	} {
		l.SetQoS("t/wf/f", step.qos)
		d, err := l.Decide("t/wf/f", t0.Add(time.Duration(k)*10*time.Second+500*time.Millisecond), Stats{})
		if err != nil {
			t.Fatal(err)
		}
		if d.KeepAlive != step.want {
			t.Errorf("step %d: keep-alive %v, want %v", k, d.KeepAlive, step.want)
		}
	}
}

// TestLiveForgetsARemovedFunction: after Forget, a function is planned
// afresh, without the settings it had, and Live holds nothing of it.
func TestLiveForgetsARemovedFunction(t *testing.T) {
	l, t0 := newQoSLive(t)
	l.SetQoS("t/wf/f", &FunctionQoS{Function: "t/wf/f", ColdStartCost: time.Minute, KeepAlive: 30 * time.Second, Quantile: 0.5})
	if d, err := l.Decide("t/wf/f", t0.Add(time.Second), Stats{}); err != nil || d.KeepAlive != 30*time.Second {
		t.Fatalf("before: %+v, %v; want the QoS keep-alive", d, err)
	}
	l.Forget("t/wf/f")
	if n, q := len(l.fns), len(l.qos); n != 0 || q != 0 {
		t.Errorf("after Forget: %d planners, %d settings held", n, q)
	}
	if d, err := l.Decide("t/wf/f", t0.Add(11*time.Second), Stats{}); err != nil || d.KeepAlive != AquatopeKeepAlive {
		t.Errorf("after Forget: %+v, %v; want aquatope's own keep-alive", d, err)
	}
}

// newQoSLive is a Live over aquatope-qos, planning 10 s intervals from t0.
func newQoSLive(t *testing.T) (*Live, time.Time) {
	t.Helper()
	pol, err := New("aquatope-qos")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	l, err := NewLive(pol, LiveOptions{Interval: 10 * time.Second, Epoch: t0})
	if err != nil {
		t.Fatal(err)
	}
	return l, t0
}

// TestLiveTakesTheAllowedColdShare: live, aquatope-qos plans a function
// by its allowed cold share as the simulator does (the same planner):
// every call may be cold, nothing kept; the share taken away, its
// settings' keep-alive.
func TestLiveTakesTheAllowedColdShare(t *testing.T) {
	l, t0 := newQoSLive(t)
	q := &FunctionQoS{Function: "t/wf/f", ColdStartCost: time.Minute, KeepAlive: 30 * time.Second, Quantile: 0.5, Concurrency: 0.5, AllowedCold: 1, AllowedColdArrivals: 1, Batch: 1, Calls: 1}
	l.SetQoS("t/wf/f", q)
	var arrivals uint64
	decide := func(k int) Decision {
		t.Helper()
		arrivals += 20
		d, err := l.Decide("t/wf/f", t0.Add(time.Duration(k)*10*time.Second+500*time.Millisecond), Stats{Arrivals: arrivals})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Once its idle window is chosen (after idleWindowMinSamples idle
	// times); before, the settings' keep-alive bridges the calls.
	for k := range idleWindowMinSamples + 2 {
		decide(k)
	}
	if d := decide(idleWindowMinSamples + 2); d != (Decision{}) {
		t.Errorf("every call may be cold: %+v, want nothing kept", d)
	}
	frugal := *q
	frugal.AllowedCold = 0
	l.SetQoS("t/wf/f", &frugal)
	if d := decide(idleWindowMinSamples + 3); d.KeepAlive != 30*time.Second {
		t.Errorf("no share: %+v, want the 30 s keep-alive", d)
	}
}

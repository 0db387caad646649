package orchestrator

import (
	"testing"
	"time"

	"baton.dev/baton/scheduler/decide"
)

// TestAutoscalerWindows feeds demand samples through the autoscaler's
// windows and checks their means, the floor from the planner, and that
// samples older than the stable window are dropped.
func TestAutoscalerWindows(t *testing.T) {
	a := NewAutoscaler(nil, decide.AutoscalerPolicy{KeepAlive: 20 * time.Second, PanicWindow: 3 * time.Second}, time.Second)
	a.SetFloorPlanner(fixedFloors{"f": 2})
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var got []decide.PoolState
	// Demand 4 for 10 s, then 0 for 10 s, a sample a second.
	for i := range 20 {
		demand := 4
		if i >= 10 {
			demand = 0
		}
		got = a.observe(start.Add(time.Duration(i)*time.Second), []decide.PoolState{{Function: "f", Busy: demand}}, true)
	}
	ps := got[0]
	if ps.StableConcurrency != 2 || ps.PanicConcurrency != 0 || ps.Floor != 2 {
		t.Fatalf("after 10 s at 4 and 10 s at 0: stable %v (want 2), panic %v (want 0), floor %d (want 2)", ps.StableConcurrency, ps.PanicConcurrency, ps.Floor)
	}
	// 21 s later every sample of demand 4 is out of the 20 s stable window.
	got = a.observe(start.Add(41*time.Second), []decide.PoolState{{Function: "f"}}, true)
	if got[0].StableConcurrency != 0 {
		t.Errorf("stable concurrency %v a window after the load, want 0", got[0].StableConcurrency)
	}
	if n, _ := decide.Desired(got[0], a.policy); n != 2 {
		t.Errorf("desired %d with no demand and floor 2, want 2", n)
	}
	// A burst sets off panic mode, which holds for a stable window.
	at := start.Add(60 * time.Second)
	got = a.observe(at, []decide.PoolState{{Function: "f", Busy: 1, Waiting: 9}}, true)
	if !got[0].Panicking {
		t.Fatalf("demand 10 on 1 sandbox did not set off panic mode: %+v", got[0])
	}
	got = a.observe(at.Add(10*time.Second), []decide.PoolState{{Function: "f", Idle: make([]decide.IdleSandbox, 10)}}, true)
	if !got[0].Panicking {
		t.Errorf("panic mode ended 10 s after the burst, within the 20 s stable window")
	}
	got = a.observe(at.Add(25*time.Second), []decide.PoolState{{Function: "f", Idle: make([]decide.IdleSandbox, 10)}}, true)
	if got[0].Panicking {
		t.Errorf("panic mode still on 25 s after the burst")
	}
}

// fixedFloors is a FloorPlanner with a fixed floor per function.
type fixedFloors map[string]int

func (f fixedFloors) Plan(ps decide.PoolState, _ time.Time) decide.PoolPlan {
	return decide.PoolPlan{Floor: f[ps.Function]}
}

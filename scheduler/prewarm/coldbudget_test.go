package prewarm

import (
	"math"
	"testing"
	"time"
)

// TestPlanQoSAllowsColdStartsWithinTheBudget: each function's allowed cold
// share, and the share of cold arrivals, is the most the QoS takes: every
// call cold when the slack absorbs any cold start, less the tighter the
// QoS, none without a budget; and at the shares allowed, the violations
// the plan's model adds stay within its share of the budget under both
// models of going cold together.
func TestPlanQoSAllowsColdStartsWithinTheBudget(t *testing.T) {
	tests := []struct {
		name           string
		shape          WorkflowShape
		min, max       float64 // bounds on every function's share
		arrMin, arrMax float64 // bounds on the share of cold arrivals
	}{
		// 5 s absorbs three cold starts of 500 ms on 650 ms.
		{"slack", pipeline(3, 5*time.Second, 500*time.Millisecond), 1, 1, 1, 1},
		// 1.5 s absorbs two: a cold arrival (one, the rest chain-warmed)
		// adds next to nothing; a function cold, some.
		{"two cold starts fit", pipeline(3, 1500*time.Millisecond, 500*time.Millisecond), 0.02, 0.5, 1, 1},
		// 1.2 s absorbs one cold start, not two: some, not all.
		{"one cold start fits", pipeline(3, 1200*time.Millisecond, 500*time.Millisecond), 0.005, 0.5, 0.005, 0.5},
		// 1 s absorbs none: a few.
		{"none fits", pipeline(3, time.Second, 500*time.Millisecond), 1e-4, 0.1, 1e-3, 0.1},
		// Ten stages never make 1 s: no budget, no share.
		{"unattainable", pipeline(10, time.Second, 500*time.Millisecond), 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanQoS(tt.shape)
			if err != nil {
				t.Fatal(err)
			}
			share := make([]float64, len(p.Functions))
			stageFn := make([]int, len(tt.shape.Stages))
			for k, f := range p.Functions {
				share[k] = f.AllowedCold
				if f.AllowedCold < tt.min || f.AllowedCold > tt.max {
					t.Errorf("%s: allowed cold %v, want in [%v, %v]", f.Function, f.AllowedCold, tt.min, tt.max)
				}
				if f.AllowedColdArrivals < tt.arrMin || f.AllowedColdArrivals > tt.arrMax {
					t.Errorf("%s: allowed cold arrivals %v, want in [%v, %v]", f.Function, f.AllowedColdArrivals, tt.arrMin, tt.arrMax)
				}
				if f.Batch != 1 || f.Calls != 1 {
					t.Errorf("%s: batch %d, calls %d, want 1 and 1", f.Function, f.Batch, f.Calls)
				}
				for i, s := range tt.shape.Stages {
					if s.Function == f.Function {
						stageFn[i] = k
					}
				}
			}
			if p.Budget == 0 {
				return
			}
			order, err := tt.shape.Order()
			if err != nil {
				t.Fatal(err)
			}
			draws := tt.shape.drawElements()
			arrivals := p.Functions[0].AllowedColdArrivals * max(0, p.ColdArrivalViolationRate-p.WarmViolationRate)
			for _, together := range []bool{false, true} {
				v := violationRate(tt.shape.coldLatencies(order, draws, p.ChainWarm, stageFn, share, together), tt.shape.Latency.Seconds())
				if added := v - p.WarmViolationRate + arrivals; added > p.Budget*qosColdMargin+1e-12 {
					t.Errorf("together %v: the allowed shares add %v violations (%v of them cold arrivals), over %v of the budget %v", together, added, arrivals, qosColdMargin, p.Budget)
				}
			}
		})
	}
}

// TestColdLatenciesChainWarmsOnAColdFirstStage: with every call cold, a
// chain-warmed pipeline waits one cold start (its first stage's; the rest
// are started ahead), one that is not chain-warmed waits all three.
func TestColdLatenciesChainWarmsOnAColdFirstStage(t *testing.T) {
	w := pipeline(3, 5*time.Second, 500*time.Millisecond)
	order, err := w.Order()
	if err != nil {
		t.Fatal(err)
	}
	draws := w.drawElements()
	warm := w.latencies(order, draws, scenario{})
	for _, tt := range []struct {
		chain []bool
		wait  float64
	}{
		{[]bool{false, true, true}, 0.5},
		{[]bool{false, false, false}, 1.5},
	} {
		for _, together := range []bool{false, true} {
			got := w.coldLatencies(order, draws, tt.chain, []int{0, 1, 2}, []float64{1, 1, 1}, together)
			for k := range got {
				// A chain-warmed stage may wait for its sandbox a little
				// past its expected start (its need was quick).
				if d := got[k] - warm[k]; d < tt.wait-1e-9 || d > tt.wait+0.5 {
					t.Fatalf("chain %v, together %v, invocation %d: %.3f s over warm, want about %v", tt.chain, together, k, d, tt.wait)
				}
			}
		}
	}
}

// TestPlanQoSChainHold: a chain-warmed stage's function keeps idle
// sandboxes for as long as its stage may start after it was expected
// (stages of 200 ms, sigma 0.3: well under a second late); a function
// with no chain-warmed stage holds none.
func TestPlanQoSChainHold(t *testing.T) {
	p, err := PlanQoS(pipeline(3, 1500*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range p.Functions {
		switch {
		case p.ChainWarm[i] && f.AllowedCold > 0:
			if f.ChainHold <= 0 || f.ChainHold > time.Second {
				t.Errorf("%s, chain-warmed: hold %v, want in (0, 1s]", f.Function, f.ChainHold)
			}
		case f.ChainHold != 0:
			t.Errorf("%s, not chain-warmed: hold %v, want none", f.Function, f.ChainHold)
		}
	}
	if !p.ChainWarm[1] || p.ChainWarm[0] {
		t.Fatalf("chain-warms %v, want the later stages", p.ChainWarm)
	}
}

// TestWarmLatencyAllocates: the latency of an invocation, which the
// simulator measures for every workflow invocation, allocates nothing for
// a workflow of usual size, and a long one gets the same latency with its
// stages off the stack.
func TestWarmLatencyAllocates(t *testing.T) {
	w := pipeline(3, 5*time.Second, 500*time.Millisecond)
	order, err := w.Order()
	if err != nil {
		t.Fatal(err)
	}
	draws := w.drawElements()
	if n := testing.AllocsPerRun(100, func() { w.WarmLatency(order, draws[0]) }); n != 0 {
		t.Errorf("%v allocations an invocation, want 0", n)
	}
	long := pipeline(40, 5*time.Second, 500*time.Millisecond)
	if order, err = long.Order(); err != nil {
		t.Fatal(err)
	}
	elements := make([][]float64, 40)
	for i := range elements {
		elements[i] = []float64{0.25}
	}
	if got, want := long.WarmLatency(order, elements), 40*0.25; math.Abs(got-want) > 1e-9 {
		t.Errorf("40 stages of 250 ms: %v s, want %v", got, want)
	}
}

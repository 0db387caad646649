package prewarm

import (
	"math"
	"strings"
	"testing"
	"time"
)

// prices gives every function of w the same price a sandbox-second.
func prices(w WorkflowShape, usd float64) map[string]float64 {
	out := map[string]float64{}
	for _, s := range w.Stages {
		out[s.Function] = usd
	}
	return out
}

func TestIdleCost(t *testing.T) {
	const perMinute = 1.0 / 60
	slack := pipeline(3, 5*time.Second, 500*time.Millisecond) // every cold start absorbed
	tight := pipeline(3, time.Second, 500*time.Millisecond)   // none absorbed
	tests := []struct {
		name string
		w    WorkflowShape
		rate float64 // arrivals a second
		usd  float64 // a sandbox-second
		// wantIdle is the idle sandbox-seconds per invocation, within 1%.
		wantIdle float64
		feasible bool
	}{
		// The tight plan prices a cold start past an hour: at any of these
		// rates λC > 1, so each function's sandbox stays the window's two
		// hours and idles the whole gap: 1/λ each, 3/λ in all.
		{"tight 1/min", tight, perMinute, 1e-5, 3 * 60, true},
		{"tight 10/min", tight, 10 * perMinute, 1e-5, 3 * 6, true},
		// At 100/min a third of a call is in flight on average: the floor
		// keeps two sandboxes (its 0.99 quantile), idle but for that third.
		{"tight 100/min", tight, 100 * perMinute, 1e-5, 3 * (2 - 100*perMinute*0.2*math.Exp(0.045)) / (100 * perMinute), true},
		// The slack plan prices a cold start at a minute: at one call a
		// minute (λC = 1) a sandbox is kept half an interval, idling
		// (1 − e^{−λ·30 s})/λ, and the cold starts fit in the slack.
		{"slack 1/min", slack, perMinute, 1e-5, 3 * (1 - math.Exp(-0.5)) * 60, true},
		{"slack 10/min", slack, 10 * perMinute, 1e-5, 3 * 6, true},
		{"price doubled", tight, perMinute, 2e-5, 3 * 60, true},
		// Unattainable (a p95 of 650 ms warm against 500 ms): aquatope's
		// own settings, kept warm, and not feasible.
		{"unattainable 1/min", pipeline(3, 500*time.Millisecond, 500*time.Millisecond), perMinute, 1e-5, 3 * 60, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := PlanQoS(tt.w)
			if err != nil {
				t.Fatal(err)
			}
			est, err := IdleCost(tt.w, plan, tt.rate, prices(tt.w, tt.usd))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(est.IdleSeconds-tt.wantIdle) > 0.01*tt.wantIdle {
				t.Errorf("idle %.3f sandbox-s an invocation, want %.3f", est.IdleSeconds, tt.wantIdle)
			}
			if want := (est.IdleSeconds + est.StartSeconds) * tt.usd; math.Abs(est.USD-want) > 1e-12 {
				t.Errorf("USD %g, want (idle + start) × price = %g", est.USD, want)
			}
			if est.Feasible != tt.feasible {
				t.Errorf("feasible %v (violations %.4f, allowed %.4f), want %v", est.Feasible, est.ViolationRate, est.Allowed, tt.feasible)
			}
		})
	}
}

func TestIdleCostCoupling(t *testing.T) {
	const perMinute = 1.0 / 60
	cost := func(w WorkflowShape, rate, usd float64) IdleEstimate {
		t.Helper()
		plan, err := PlanQoS(w)
		if err != nil {
			t.Fatal(err)
		}
		est, err := IdleCost(w, plan, rate, prices(w, usd))
		if err != nil {
			t.Fatal(err)
		}
		return est
	}
	tight := pipeline(3, time.Second, 500*time.Millisecond)
	// A higher rate amortises the idle over more invocations.
	for _, r := range [][2]float64{{1, 10}, {10, 100}, {100, 1000}} {
		lo, hi := cost(tight, r[0]*perMinute, 1e-5), cost(tight, r[1]*perMinute, 1e-5)
		if !(hi.USD < lo.USD) {
			t.Errorf("at %g/min $%g an invocation, at %g/min $%g: want less at the higher rate", r[0], lo.USD, r[1], hi.USD)
		}
	}
	// More slack (the same stages, faster: a bigger configuration) lowers
	// the idle at a rate where the slow stages' cold starts must be kept
	// warm and the fast ones' need not.
	slow := pipeline(3, 1200*time.Millisecond, 500*time.Millisecond)
	fast := slow
	fast.Stages = nil
	for _, s := range slow.Stages {
		s.Median /= 2
		fast.Stages = append(fast.Stages, s)
	}
	if s, f := cost(slow, perMinute, 1e-5), cost(fast, perMinute, 1e-5); !(f.IdleSeconds < s.IdleSeconds) {
		t.Errorf("idle %.1f s with twice the speed, %.1f s without: want less with the slack", f.IdleSeconds, s.IdleSeconds)
	}
	// The price of a sandbox-second scales the cost and nothing else.
	one, two := cost(tight, perMinute, 1e-5), cost(tight, perMinute, 3e-5)
	if math.Abs(two.USD-3*one.USD) > 1e-12 || two.IdleSeconds != one.IdleSeconds {
		t.Errorf("three times the price: $%g against $%g, idle %v against %v", two.USD, one.USD, two.IdleSeconds, one.IdleSeconds)
	}
}

func TestIdleCostFloor(t *testing.T) {
	// A fan-out of 20 calls of 200 ms, 100 times a second: about 400 calls
	// in flight, a floor above them that idles what they leave.
	w := pipeline(1, time.Second, 500*time.Millisecond)
	w.Stages[0].Width, w.Stages[0].Parallel = 20, 20
	plan, err := PlanQoS(w)
	if err != nil {
		t.Fatal(err)
	}
	est, err := IdleCost(w, plan, 100, prices(w, 1e-5))
	if err != nil {
		t.Fatal(err)
	}
	f := est.Functions[0]
	if f.Floor < 400 || f.IdleSeconds <= 0 || f.ColdProbability != 0 {
		t.Errorf("floor %d, idle %.4f s, cold probability %v: want a floor above 400 busy sandboxes, some idle and no cold start", f.Floor, f.IdleSeconds, f.ColdProbability)
	}
}

func TestIdleCostErrors(t *testing.T) {
	w := pipeline(2, time.Second, 500*time.Millisecond)
	plan, err := PlanQoS(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		rate   float64
		prices map[string]float64
		want   string
	}{
		{"no rate", 0, prices(w, 1e-5), "rate > 0"},
		{"infinite rate", math.Inf(1), prices(w, 1e-5), "rate > 0"},
		{"no price", 1, map[string]float64{"fn-a": 1e-5}, "function fn-b"},
	} {
		if _, err := IdleCost(w, plan, tt.rate, tt.prices); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.want)
		}
	}
}

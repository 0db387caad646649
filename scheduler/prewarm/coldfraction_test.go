package prewarm

import (
	"math"
	"testing"
	"time"
)

// TestLevelModel checks the level model where its cold starts can be
// worked out: at a low rate a call finds the last one's sandbox when the
// gap between them (exponential) is under the keep-alive, and a floor of
// one keeps every call warm but those that come while another is in
// flight.
func TestLevelModel(t *testing.T) {
	const m = 0.01 // calls in flight on average: one call at a time
	lm := newLevelModel(m, 1, nil)
	for _, tt := range []struct {
		floor int
		keep  float64 // mean durations
		want  float64 // share of calls cold
	}{
		{0, 0, 1},
		{0, 50, math.Exp(-m * 50)},
		{0, 200, math.Exp(-m * 200)},
		{1, 0, m}, // another in flight: P(N ≥ 1) = 1 − e^−m
	} {
		cold, _ := lm.coldAndIdle(tt.floor, tt.keep, math.Inf(1))
		if math.Abs(cold-tt.want) > 0.03 {
			t.Errorf("floor %d, keep-alive %v: cold %.4f, want about %.4f", tt.floor, tt.keep, cold, tt.want)
		}
	}
	// Calls idle past the horizon are not the level model's to count.
	if cold, _ := lm.coldAndIdle(0, 0, 50); math.Abs(cold-(1-math.Exp(-m*50))) > 0.03 {
		t.Errorf("horizon 50: cold %.4f, want about %.4f", cold, 1-math.Exp(-m*50))
	}
	// Batches: the second of two calls at once never finds a sandbox the
	// first left.
	b := newLevelModel(m, 2, nil)
	if cold, _ := b.coldAndIdle(1, 0, math.Inf(1)); cold < 0.45 {
		t.Errorf("batches of two, floor 1: cold %.3f, want at least half", cold)
	}
}

// TestColdFractionChoice: the floor and keep-alive chosen meet the allowed
// share at the least idle, spending more as the share shrinks: none at
// all when every call may be cold.
func TestColdFractionChoice(t *testing.T) {
	const d = 200 * time.Millisecond
	for _, m := range []float64{0.001, 0.1, 1, 10, 100} {
		lm := newLevelModel(m, 1, nil)
		prevIdle := -1.0
		for _, allowed := range []float64{1, 0.3, 0.1, 0.03, 0.01} {
			c := coldFractionChoice(m, 1, d, 2*time.Minute, allowed, nil)
			floor, keep := c.floor, c.keepAlive
			if allowed == 1 && (floor != 0 || keep != 0) {
				t.Errorf("m %v: every call may be cold, got floor %d keep-alive %v", m, floor, keep)
			}
			cold, idle := lm.coldAndIdle(floor, keep.Seconds()/d.Seconds(), (2*time.Minute).Seconds()/d.Seconds())
			if cold > allowed {
				t.Errorf("m %v, allowed %v: floor %d keep-alive %v, cold %v", m, allowed, floor, keep, cold)
			}
			if idle < prevIdle {
				t.Errorf("m %v, allowed %v: idle %v, less than %v with a larger share", m, allowed, idle, prevIdle)
			}
			// The choice's own cold share and idle are the model's at it.
			if c.cold != cold || math.Abs(c.idle-idle/float64(len(lm.hits))*d.Seconds()) > 1e-9*c.idle {
				t.Errorf("m %v, allowed %v: choice says cold %v idle %v s a call, the model %v and %v", m, allowed, c.cold, c.idle, cold, idle/float64(len(lm.hits))*d.Seconds())
			}
			prevIdle = idle
		}
	}
}

// TestColdFractionChoicePinned pins the floors and keep-alives chosen
// before coldFractionChoice returned its cold share and idle: the
// planner chooses as it did.
func TestColdFractionChoicePinned(t *testing.T) {
	for _, tt := range []struct {
		m        float64
		batch    int
		duration time.Duration
		allowed  float64
		floor    int
		keep     time.Duration
	}{
		{0.001, 1, 50 * time.Millisecond, 0.5, 0, 30 * time.Second},
		{0.001, 1, 50 * time.Millisecond, 0.05, 0, 120 * time.Second},
		{0.001, 1, 50 * time.Millisecond, 0.005, 0, 120 * time.Second},
		{0.001, 1, 1000 * time.Millisecond, 0.5, 0, 0 * time.Second},
		{0.001, 1, 1000 * time.Millisecond, 0.05, 0, 120 * time.Second},
		{0.001, 1, 1000 * time.Millisecond, 0.005, 0, 120 * time.Second},
		{0.001, 3, 50 * time.Millisecond, 0.5, 0, 10 * time.Second},
		{0.001, 3, 50 * time.Millisecond, 0.05, 0, 120 * time.Second},
		{0.001, 3, 50 * time.Millisecond, 0.005, 0, 120 * time.Second},
		{0.001, 3, 1000 * time.Millisecond, 0.5, 0, 0 * time.Second},
		{0.001, 3, 1000 * time.Millisecond, 0.05, 0, 0 * time.Second},
		{0.001, 3, 1000 * time.Millisecond, 0.005, 0, 120 * time.Second},
		{0.05, 1, 50 * time.Millisecond, 0.5, 0, 1 * time.Second},
		{0.05, 1, 50 * time.Millisecond, 0.05, 1, 1 * time.Second},
		{0.05, 1, 50 * time.Millisecond, 0.005, 1, 60 * time.Second},
		{0.05, 1, 1000 * time.Millisecond, 0.5, 0, 20 * time.Second},
		{0.05, 1, 1000 * time.Millisecond, 0.05, 1, 0 * time.Second},
		{0.05, 1, 1000 * time.Millisecond, 0.005, 0, 120 * time.Second},
		{0.05, 3, 50 * time.Millisecond, 0.5, 1, 1 * time.Second},
		{0.05, 3, 50 * time.Millisecond, 0.05, 0, 10 * time.Second},
		{0.05, 3, 50 * time.Millisecond, 0.005, 2, 60 * time.Second},
		{0.05, 3, 1000 * time.Millisecond, 0.5, 0, 30 * time.Second},
		{0.05, 3, 1000 * time.Millisecond, 0.05, 0, 120 * time.Second},
		{0.05, 3, 1000 * time.Millisecond, 0.005, 0, 120 * time.Second},
		{0.3, 1, 50 * time.Millisecond, 0.5, 1, 0 * time.Second},
		{0.3, 1, 50 * time.Millisecond, 0.05, 2, 0 * time.Second},
		{0.3, 1, 50 * time.Millisecond, 0.005, 3, 0 * time.Second},
		{0.3, 1, 1000 * time.Millisecond, 0.5, 1, 0 * time.Second},
		{0.3, 1, 1000 * time.Millisecond, 0.05, 2, 0 * time.Second},
		{0.3, 1, 1000 * time.Millisecond, 0.005, 1, 120 * time.Second},
		{0.3, 3, 50 * time.Millisecond, 0.5, 2, 0 * time.Second},
		{0.3, 3, 50 * time.Millisecond, 0.05, 3, 5 * time.Second},
		{0.3, 3, 50 * time.Millisecond, 0.005, 3, 30 * time.Second},
		{0.3, 3, 1000 * time.Millisecond, 0.5, 1, 5 * time.Second},
		{0.3, 3, 1000 * time.Millisecond, 0.05, 3, 5 * time.Second},
		{0.3, 3, 1000 * time.Millisecond, 0.005, 3, 120 * time.Second},
		{1, 1, 50 * time.Millisecond, 0.5, 2, 0 * time.Second},
		{1, 1, 50 * time.Millisecond, 0.05, 1, 1 * time.Second},
		{1, 1, 50 * time.Millisecond, 0.005, 5, 1 * time.Second},
		{1, 1, 1000 * time.Millisecond, 0.5, 0, 1 * time.Second},
		{1, 1, 1000 * time.Millisecond, 0.05, 1, 20 * time.Second},
		{1, 1, 1000 * time.Millisecond, 0.005, 4, 60 * time.Second},
		{1, 3, 50 * time.Millisecond, 0.5, 4, 0 * time.Second},
		{1, 3, 50 * time.Millisecond, 0.05, 5, 1 * time.Second},
		{1, 3, 50 * time.Millisecond, 0.005, 2, 20 * time.Second},
		{1, 3, 1000 * time.Millisecond, 0.5, 2, 1 * time.Second},
		{1, 3, 1000 * time.Millisecond, 0.05, 5, 5 * time.Second},
		{1, 3, 1000 * time.Millisecond, 0.005, 2, 120 * time.Second},
		{4, 1, 50 * time.Millisecond, 0.5, 7, 0 * time.Second},
		{4, 1, 50 * time.Millisecond, 0.05, 9, 0 * time.Second},
		{4, 1, 50 * time.Millisecond, 0.005, 11, 0 * time.Second},
		{4, 1, 1000 * time.Millisecond, 0.5, 0, 1 * time.Second},
		{4, 1, 1000 * time.Millisecond, 0.05, 7, 2 * time.Second},
		{4, 1, 1000 * time.Millisecond, 0.005, 0, 60 * time.Second},
		{4, 3, 50 * time.Millisecond, 0.5, 7, 0 * time.Second},
		{4, 3, 50 * time.Millisecond, 0.05, 11, 0 * time.Second},
		{4, 3, 50 * time.Millisecond, 0.005, 11, 5 * time.Second},
		{4, 3, 1000 * time.Millisecond, 0.5, 0, 1 * time.Second},
		{4, 3, 1000 * time.Millisecond, 0.05, 11, 0 * time.Second},
		{4, 3, 1000 * time.Millisecond, 0.005, 11, 60 * time.Second},
		{30, 1, 50 * time.Millisecond, 0.5, 37, 0 * time.Second},
		{30, 1, 50 * time.Millisecond, 0.05, 43, 0 * time.Second},
		{30, 1, 50 * time.Millisecond, 0.005, 0, 1 * time.Second},
		{30, 1, 1000 * time.Millisecond, 0.5, 0, 1 * time.Second},
		{30, 1, 1000 * time.Millisecond, 0.05, 0, 2 * time.Second},
		{30, 1, 1000 * time.Millisecond, 0.005, 43, 1 * time.Second},
		{30, 3, 50 * time.Millisecond, 0.5, 37, 0 * time.Second},
		{30, 3, 50 * time.Millisecond, 0.05, 43, 0 * time.Second},
		{30, 3, 50 * time.Millisecond, 0.005, 43, 1 * time.Second},
		{30, 3, 1000 * time.Millisecond, 0.5, 37, 0 * time.Second},
		{30, 3, 1000 * time.Millisecond, 0.05, 37, 2 * time.Second},
		{30, 3, 1000 * time.Millisecond, 0.005, 48, 1 * time.Second},
	} {
		c := coldFractionChoice(tt.m, tt.batch, tt.duration, 2*time.Minute, tt.allowed, nil)
		if c.floor != tt.floor || c.keepAlive != tt.keep {
			t.Errorf("m %v, batch %d, duration %v, allowed %v: floor %d keep-alive %v, want %d and %v", tt.m, tt.batch, tt.duration, tt.allowed, c.floor, c.keepAlive, tt.floor, tt.keep)
		}
	}
}

// TestAquatopeQoSPlansByTheAllowedColdShare: under aquatope-qos a function
// whose calls may all be cold keeps nothing; one with a small share keeps
// sandboxes, more the smaller the share; one with no share follows its
// settings (the 30 s keep-alive).
func TestAquatopeQoSPlansByTheAllowedColdShare(t *testing.T) {
	pol, err := New("aquatope-qos")
	if err != nil {
		t.Fatal(err)
	}
	counts := series(200, func(int) int { return 120 }) // 2 a second, 100 ms each
	settings := FunctionQoS{Function: "f", ColdStartCost: time.Minute, KeepAlive: 30 * time.Second, Quantile: 0.5, Concurrency: 0.5, AllowedColdArrivals: 1, Batch: 1, Calls: 1}
	kept := func(d Decision) float64 { return float64(d.Floor) + d.KeepAlive.Seconds() }
	prev := -1.0
	for k, tt := range []struct {
		allowed float64
		want    *Decision
	}{
		{1, &Decision{}},
		{1, &Decision{KeepAlive: 800 * time.Millisecond}}, // with a chain hold of 800 ms
		{0.3, nil},
		{0.05, nil},
		{0.005, nil},
		{0, &Decision{KeepAlive: 30 * time.Second}},
	} {
		q := settings
		q.AllowedCold, q.ChainHold = tt.allowed, 0
		if k == 1 {
			q.ChainHold = 800 * time.Millisecond
		}
		f := Function{Name: "f", ColdStart: time.Second, MeanDuration: 100 * time.Millisecond, Interval: time.Minute, QoS: &q}
		ds := drive(t, pol, f, counts)
		got := ds[len(ds)-1]
		if tt.want != nil {
			if got != *tt.want {
				t.Errorf("allowed %v: %+v, want %+v", tt.allowed, got, *tt.want)
			}
			continue
		}
		if k := kept(got); k <= prev {
			t.Errorf("allowed %v: %+v, keeps no more than with a larger share", tt.allowed, got)
		} else {
			prev = k
		}
		// The share is an average over the calls: the median forecast's
		// calls in flight, whatever the settings' arrival quantile.
		q.Quantile = 0.99
		if hedged := drive(t, pol, f, counts); hedged[len(hedged)-1] != got {
			t.Errorf("allowed %v, arrival quantile 0.99: %+v, want %+v as at the median", tt.allowed, hedged[len(hedged)-1], got)
		}
	}
}

// TestLevelModelDraws: the draws drawn once are those a model would draw,
// and a model of batches larger than the table draws on past it.
func TestLevelModelDraws(t *testing.T) {
	table := levelModelDraws()
	for _, k := range []int{0, 1, 7499, len(table) - 1} {
		if want := -math.Log(uniform(qosColdSeed, 0x1e7e1, uint64(k)+1)); table[k] != want {
			t.Errorf("draw %d: %v, want %v", k, table[k], want)
		}
	}
	lm := newLevelModel(4, 20000, table)
	if n := len(lm.hits); n != 20000-levelModelWarmUp {
		t.Errorf("one batch of 20000 calls: %d counted, want %d", n, 20000-levelModelWarmUp)
	}
}

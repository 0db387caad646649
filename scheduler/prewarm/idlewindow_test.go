package prewarm

import (
	"testing"
	"time"
)

// TestIdleWindowFit checks the window chosen for idle-time patterns whose
// cheapest window can be worked out by hand.
func TestIdleWindowFit(t *testing.T) {
	tests := []struct {
		name        string
		its         []int // repeated in turn
		coldCost    float64
		wantPrewarm int
		wantKeep    int
	}{
		// Every 5 intervals: warm from 5 after a call (½ idle a call)
		// beats keeping it 5 intervals (5 a call) and every call cold (10).
		{"timer every 5", []int{5}, 10, 5, 0},
		// Every interval: keep it one interval (1 a call).
		{"every interval", []int{1}, 10, 0, 1},
		// Beyond the range (30 here): never worth a sandbox.
		{"every 40, past the range", []int{40}, 10, 0, 0},
		// 1, 1, 1, 20: keeping for 20 costs 23 a cycle, for 1 costs
		// 3 + 1 + 10 = 14; warming 20 after a call misses the three 1s
		// (30 + ½).
		{"bursts of four every 20", []int{1, 1, 1, 20}, 10, 0, 1},
		// The same with cold starts worth 100: keeping for 20 (23 a cycle)
		// beats 1 + 1 + 1 + 1 + 100.
		{"bursts of four every 20, dear cold starts", []int{1, 1, 1, 20}, 100, 0, 20},
		// A timer every 12 whose calls straddle interval boundaries:
		// 11 or 12 intervals apart; warm from 11 for one more.
		{"timer with jitter", []int{11, 12}, 10, 11, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newIdleWindow(30, tt.coldCost)
			i := 0
			w.observe(i)
			for k := 0; k < 200; k++ {
				i += tt.its[k%len(tt.its)]
				w.observe(i)
			}
			if !w.fitted || w.prewarm != tt.wantPrewarm || w.keep != tt.wantKeep {
				t.Errorf("window prewarm %d keep %d (fitted %v), want %d, %d", w.prewarm, w.keep, w.fitted, tt.wantPrewarm, tt.wantKeep)
			}
		})
	}
	w := newIdleWindow(30, 10)
	for i := 0; i < idleWindowMinSamples; i++ {
		w.observe(5 * i)
	}
	if w.fitted {
		t.Errorf("fitted on %d idle times, want %d first", idleWindowMinSamples-1, idleWindowMinSamples)
	}
}

// TestAquatopeWithColdStartCost drives aquatope with a cold-start cost on
// a timer: once its window is chosen the sandbox is warm only around the
// calls, while plain aquatope keeps its forecast's floor.
func TestAquatopeWithColdStartCost(t *testing.T) {
	f := Function{Name: "f", ColdStart: 500 * time.Millisecond, MeanDuration: time.Second, Interval: time.Minute}
	counts := series(400, func(i int) int { return map[bool]int{true: 1}[i%10 == 3] })
	ds := drive(t, Aquatope{Chain: true, ColdStartCost: 10 * time.Minute}, f, counts)
	for i := 300; i < 400; i++ {
		since := i - ((i-2-3)/10*10 + 3) // from the last call the planner has seen
		want := Decision{KeepAlive: 30 * time.Second}
		if since == 10 {
			want.Floor = 1
		}
		if ds[i] != want {
			t.Fatalf("interval %d (%d after the last call seen): %+v, want %+v", i, since, ds[i], want)
		}
	}
	for _, tt := range []struct {
		a    Aquatope
		want string
	}{
		{Aquatope{Chain: true, ColdStartCost: AquatopeColdStartCost}, "aquatope"},
		{Aquatope{Chain: true}, "aquatope-c0"},
		{Aquatope{ColdStartCost: 20 * time.Minute, KeepAlive: time.Minute, Quantile: 0.9}, "aquatope-nochain-1m-q0.9-c20m"},
	} {
		if got := tt.a.Name(); got != tt.want {
			t.Errorf("%+v named %s, want %s", tt.a, got, tt.want)
		}
	}
	if _, err := (Aquatope{ColdStartCost: -time.Second}).NewPlanner(f); err == nil {
		t.Error("a negative cold-start cost accepted")
	}
}

// TestIdleWindowNewColdCost: a new price of a cold start chooses the
// window again from the idle times seen (the bursts of four every 20 of
// TestIdleWindowFit, first at 10, then at 100).
func TestIdleWindowNewColdCost(t *testing.T) {
	w := newIdleWindow(30, 10)
	i := 0
	w.observe(i)
	for k := range 40 {
		i += []int{1, 1, 1, 20}[k%4]
		w.observe(i)
	}
	if !w.fitted || w.prewarm != 0 || w.keep != 1 {
		t.Fatalf("at 10: window (%d, %d), want (0, 1)", w.prewarm, w.keep)
	}
	w.setChoice(100, 0)
	if w.prewarm != 0 || w.keep != 20 {
		t.Errorf("at 100: window (%d, %d), want (0, 20)", w.prewarm, w.keep)
	}
}

// TestIdleWindowMissShare: with a share of calls it may miss, the window
// is the one of least idle that misses no more (ITs of one interval left
// to the keep-alive), whatever a cold start's price.
func TestIdleWindowMissShare(t *testing.T) {
	tests := []struct {
		name        string
		its         []int // repeated in turn
		calls       int   // a call interval
		share       float64
		wantPrewarm int
		wantKeep    int
	}{
		// A timer every 5, one call each: missing none, warm from 5
		// after (½ idle a call); missing them all, keep nothing.
		{"timer every 5, miss none", []int{5}, 1, 0.001, 5, 0},
		{"timer every 5, miss all", []int{5}, 1, 1, 0, 0},
		// Ten calls an interval: missing one call in ten misses every
		// gap, for nothing idle.
		{"timer every 5, ten calls each", []int{5}, 10, 0.1, 0, 0},
		// Bursts 1, 1, 1, 20 apart: the three gaps of one are the
		// keep-alive's; missing the 20s costs nothing, missing none of
		// them warms from 20 after (or keeps for 20: more idle).
		{"bursts, miss a quarter", []int{1, 1, 1, 20}, 1, 0.25, 0, 0},
		{"bursts, miss none", []int{1, 1, 1, 20}, 1, 0.01, 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newIdleWindow(30, 1)
			w.setChoice(1, tt.share)
			i := 0
			w.calls += tt.calls
			w.observe(i)
			for k := 0; k < 200; k++ {
				i += tt.its[k%len(tt.its)]
				w.calls += tt.calls
				w.observe(i)
			}
			if !w.fitted || w.prewarm != tt.wantPrewarm || w.keep != tt.wantKeep {
				t.Errorf("window prewarm %d keep %d (fitted %v), want %d, %d", w.prewarm, w.keep, w.fitted, tt.wantPrewarm, tt.wantKeep)
			}
		})
	}
}

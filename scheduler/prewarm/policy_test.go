package prewarm

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"all", Names(), ""},
		{"aquatope, none,aquatope", []string{"aquatope", "none"}, ""},
		{"keepalive-10m", []string{"keepalive-10m"}, ""},
		{"keepalive-2m,keepalive-90s", []string{"keepalive-2m", "keepalive-1m30s"}, ""},
		{"oracle,oracle-5m,oracle-2m", []string{"oracle", "oracle-2m"}, ""},
		{"hybrid-histogram-1h,hybrid-histogram-4h", []string{"hybrid-histogram-1h", "hybrid-histogram"}, ""},
		{"aquatope-1m,aquatope-q0.8,aquatope-30s-q0.99,aquatope-5m-q0.5-c10m", []string{"aquatope-1m", "aquatope-q0.8", "aquatope-30s-q0.99", "aquatope"}, ""},
		{"aquatope-c0,aquatope-2m-q0.95-c0,aquatope-c1h", []string{"aquatope-c0", "aquatope-2m-q0.95-c0", "aquatope-c1h"}, ""},
		{"aquatope-c-1m", nil, `pre-warm policy "aquatope-c-1m": want a cold-start cost ≥ 0`},
		{"aquatope-nochain,aquatope-nochain-2m-q0.95-c0", []string{"aquatope-nochain", "aquatope-nochain-2m-q0.95-c0"}, ""},
		{"aquatope-q1", nil, `pre-warm policy "aquatope-q1": want aquatope-DURATION`},
		{"aquatope-soon", nil, `pre-warm policy "aquatope-soon": want aquatope-DURATION`},
		{"hybrid-histogram-0s", nil, `pre-warm policy "hybrid-histogram-0s": want hybrid-histogram- and a positive duration`},
		{"oracle-never", nil, `pre-warm policy "oracle-never": want oracle- and a positive duration`},
		{"keepalive-0s", nil, `pre-warm policy "keepalive-0s": want keepalive- and a positive duration`},
		{"keepalive-soon", nil, `pre-warm policy "keepalive-soon": want keepalive- and a positive duration`},
		{"", nil, "no pre-warm policy"},
		{"aquatope,bogus", nil, `unknown pre-warm policy "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d policies, want %v", len(got), tt.want)
			}
			for i, p := range got {
				if p.Name() != tt.want[i] {
					t.Errorf("policy %d is %s, want %s", i, p.Name(), tt.want[i])
				}
			}
		})
	}
}

// series is a test arrival pattern per minute.
func series(n int, at func(i int) int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = at(i)
	}
	return out
}

// drive plans and observes counts as the simulator does (Plan(i) when
// intervals before i−1 are observed) and returns the decisions.
func drive(t *testing.T, p PrewarmPolicy, f Function, counts []int) []Decision {
	t.Helper()
	pl, err := p.NewPlanner(f)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Decision, len(counts))
	out[0] = pl.Plan(0)
	for i := 1; i < len(counts); i++ {
		if i >= 2 {
			pl.Observe(i-2, counts[i-2])
		}
		out[i] = pl.Plan(i)
	}
	return out
}

func TestPolicyInvariants(t *testing.T) {
	f := Function{Name: "f", ColdStart: 500 * time.Millisecond, MeanDuration: 2 * time.Second, Interval: time.Minute}
	patterns := map[string][]int{
		"silent": series(300, func(int) int { return 0 }),
		"steady": series(300, func(int) int { return 30 }),
		"timer":  series(300, func(i int) int { return map[bool]int{true: 1}[i%10 == 3] }),
		"burst":  series(300, func(i int) int { return map[bool]int{true: 200}[i > 150 && i < 160] }),
	}
	for _, name := range Names() {
		pol, err := New(name)
		if err != nil {
			t.Fatal(err)
		}
		for pat, counts := range patterns {
			t.Run(name+"/"+pat, func(t *testing.T) {
				f := f
				f.Future = counts
				for i, d := range drive(t, pol, f, counts) {
					if d.Floor < 0 || d.KeepAlive < 0 {
						t.Fatalf("interval %d: decision %+v, want floor and keep-alive ≥ 0", i, d)
					}
					switch name {
					case "none":
						if d != (Decision{}) {
							t.Fatalf("interval %d: none decided %+v", i, d)
						}
					case "keepalive-10m":
						if d != (Decision{KeepAlive: 10 * time.Minute}) {
							t.Fatalf("interval %d: keepalive-10m decided %+v", i, d)
						}
					case "oracle":
						if want := concurrencyFloor(float64(counts[i]), f, 0.99); d.Floor != want {
							t.Fatalf("interval %d: oracle floor %d, want %d for %d arrivals", i, d.Floor, want, counts[i])
						}
					}
				}
			})
		}
	}
}

func TestConcurrencyFloor(t *testing.T) {
	f := Function{MeanDuration: 3 * time.Second, Interval: time.Minute}
	tests := []struct {
		arrivals, q float64
		want        int
	}{
		{0, 0.99, 0},   // no call expected: no floor
		{0.2, 0.99, 1}, // mean 0.01 busy: at least one when any call is expected
		{20, 0.99, 4},  // mean 1: P(N ≤ 3) = 0.981, P(N ≤ 4) = 0.996
		{40, 0.99, 6},  // mean 2
		{40, 0.5, 2},   // the median of Poisson(2)
		{400, 0.99, 31},
		// mean 2,000: the normal approximation (2,000 + 2.326 × 44.7 =
		// 2,104.03, rounded up).
		{40000, 0.99, 2105},
		// mean 744, where exp(−mean) is subnormal: still an answer
		// (744 + 2.326 × 27.3 = 807.4).
		{14880, 0.99, 808},
		// mean 400, the last summed exactly, and just past it: the two
		// ways agree within a sandbox (the exact 99th percentile of
		// Poisson(400) is 447).
		{8000, 0.99, 447},
		{8001, 0.99, 447},
	}
	for _, tt := range tests {
		if got := concurrencyFloor(tt.arrivals, f, tt.q); got != tt.want {
			t.Errorf("concurrencyFloor(%v, q %v) = %d, want %d", tt.arrivals, tt.q, got, tt.want)
		}
	}
}

func TestAquatopeFollowsTheForecast(t *testing.T) {
	f := Function{Name: "f", ColdStart: 700 * time.Millisecond, MeanDuration: 6 * time.Second, Interval: time.Minute}
	tests := []struct {
		name           string
		counts         []int
		minFloor, max_ int // over the last 30 intervals
	}{
		// 3 busy on average; Poisson(3)'s 99th percentile is 8 (7 at the
		// median forecast, a little under 30: Poisson(2.9)'s is 7).
		{"steady 30 a minute keeps 3 busy on average, 7-8 at the 99th percentile", series(200, func(int) int { return 30 }), 7, 10},
		{"long silence scales to zero", series(200, func(int) int { return 0 }), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := drive(t, Aquatope{Chain: true}, f, tt.counts)
			for _, d := range ds[len(ds)-30:] {
				if d.Floor < tt.minFloor || d.Floor > tt.max_ {
					t.Fatalf("floor %d, want in [%d, %d]", d.Floor, tt.minFloor, tt.max_)
				}
			}
		})
	}
	pl, _ := Aquatope{}.NewPlanner(f)
	if pl.Lead() != f.ColdStart {
		t.Errorf("lead %v, want the cold start %v", pl.Lead(), f.ColdStart)
	}
	if _, err := (Aquatope{Quantile: 1.5}).NewPlanner(f); err == nil {
		t.Error("quantile 1.5 accepted")
	}
	if _, err := (Aquatope{Concurrency: 1}).NewPlanner(f); err == nil {
		t.Error("concurrency quantile 1 accepted")
	}
}

func TestHybridHistogramWindows(t *testing.T) {
	f := Function{Name: "f", Interval: time.Minute}
	// A timer every 10 minutes: ITs all 10. After MinSamples ITs the
	// histogram is representative (one full bin: CV ≫ 2), pre-warm =
	// ⌊10 × 0.9⌋ = 9, keep-alive = ⌈10 × 1.1⌉ − 9 = 2: warm (floor 1) from
	// 9 to 11 intervals after the last invocation, unloaded at once.
	counts := series(400, func(i int) int { return map[bool]int{true: 1}[i%10 == 0] })
	ds := drive(t, HybridHistogram{}, f, counts)
	if ds[5] != (Decision{KeepAlive: 4 * time.Hour}) {
		t.Errorf("before enough ITs: %+v, want the 4-hour standard keep-alive", ds[5])
	}
	for i := 300; i < 400; i++ {
		last := (i - 2) / 10 * 10 // the last invocation the planner has seen
		since := i - last
		want := Decision{}
		if since >= 9 && since <= 11 {
			want.Floor = 1
		}
		if ds[i] != want {
			t.Fatalf("interval %d (%d after the last invocation): %+v, want %+v", i, since, ds[i], want)
		}
	}
	// Mostly out-of-bounds ITs (every 5 hours): forecast mode, pre-warm at
	// 85% of the IT (255 min), keep for 30% (90 min).
	counts = series(3000, func(i int) int { return map[bool]int{true: 1}[i%300 == 0] })
	pl, _ := HybridHistogram{}.NewPlanner(f)
	for i, c := range counts {
		pl.Observe(i, c)
	}
	hp := pl.(*hybridPlanner)
	if hp.prewarm != 255 || hp.keepalive != 90 {
		t.Errorf("out-of-bounds windows %d/%d, want 255/90", hp.prewarm, hp.keepalive)
	}
}

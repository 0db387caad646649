package scheduler

import (
	"context"
	"math"
	"testing"

	"baton.dev/baton/scheduler/stats"
)

// sampleTruth gives every configuration the same latency sample.
type sampleTruth struct{ latencies []float64 }

func (s sampleTruth) ExpectedCostUSD(Config) float64 { return 1 }
func (s sampleTruth) LatencyPercentileMs(_ Config, p float64) float64 {
	return stats.Percentile(s.latencies, p)
}

func (s sampleTruth) MeetsLatency(c Config, p, limitMs float64) bool {
	return s.LatencyPercentileMs(c, p) <= limitMs
}

// exceeding is the share of latencies over limit.
func (s sampleTruth) exceeding(limit float64) float64 {
	n := 0
	for _, l := range s.latencies {
		if l > limit {
			n++
		}
	}
	return float64(n) / float64(len(s.latencies))
}

// TestBindingTargetIsTightest checks the binding target against its
// definition: windows miss it at most missRate of the time, and one
// millisecond less misses more often.
func TestBindingTargetIsTightest(t *testing.T) {
	var ms []float64
	for v := 1000.0; v >= 1; v-- { // 1..1000 ms, out of order
		ms = append(ms, v)
	}
	truth := sampleTruth{ms}
	s, _ := tinySpace(t)
	for _, tc := range []struct {
		name     string
		p        float64
		window   int
		missRate float64
	}{
		{"p95 of 100, 1% of windows", 95, 100, 0.01},
		{"p95 of 100, 10% of windows", 95, 100, 0.10},
		{"p99 of 200, 1% of windows", 99, 200, 0.01},
		{"p50 of 20, 5% of windows", 50, 20, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BindingTarget(truth, s.Max(), tc.p, tc.window, tc.missRate)
			if got.Percentile != tc.p {
				t.Errorf("percentile %g, want %g", got.Percentile, tc.p)
			}
			miss := WindowMissProbability(tc.p, tc.window, truth.exceeding(got.LatencyMs))
			if miss > tc.missRate {
				t.Errorf("target %g ms: windows miss with probability %.4f, over %g", got.LatencyMs, miss, tc.missRate)
			}
			tighter := WindowMissProbability(tc.p, tc.window, truth.exceeding(got.LatencyMs-1))
			if tighter <= tc.missRate {
				t.Errorf("target %g ms is not the tightest: %g ms misses with probability %.4f, within %g", got.LatencyMs, got.LatencyMs-1, tighter, tc.missRate)
			}
		})
	}
}

// tailTruth is a tiny landscape where each configuration of function a is
// fast (300 ms) but for a share of slow invocations (10 s) that falls with
// CPU; cost rises with CPU and memory. On a 250m CPU grid the oracles'
// answers follow by hand from the binomial tail.
type tailTruth struct{}

// slowShare is the share of slow invocations by CPU.
func slowShare(cpuMilli int64) float64 {
	switch {
	case cpuMilli < 500:
		return 0.10
	case cpuMilli < 750:
		return 0.03
	case cpuMilli < 1000:
		return 0.01
	}
	return 0.002
}

func (tailTruth) ExpectedCostUSD(c Config) float64 {
	a := c["a"]
	return float64(a.CPUMilli) + float64(a.MemoryBytes/MiB)/1000
}

func (tailTruth) LatencyPercentileMs(c Config, p float64) float64 {
	if p <= 100*(1-slowShare(c["a"].CPUMilli)) {
		return 300
	}
	return 10_000
}

func (t tailTruth) MeetsLatency(c Config, p, limitMs float64) bool {
	return t.LatencyPercentileMs(c, p) <= limitMs
}

// TestWindowSafeOracle checks the window-safe oracle on a 12-point grid
// (CPU 250m–1000m by 250m, memory 128–256 MiB by 64) against answers worked
// by hand. The p95 oracle takes 500m (3% slow ≤ 5%). A window of 100 misses
// p95 when more than 5 are slow: P(Bin(100, 3%) > 5) ≈ 8.2%, P(Bin(100, 1%)
// > 5) ≈ 0.06%, so at 1% of windows the window-safe oracle takes 750m, at
// 10% it takes 500m. A window of 20 misses p95 when more than one is slow:
// P(Bin(20, 1%) > 1) ≈ 1.7%, P(Bin(20, 0.2%) > 1) ≈ 0.08%: 1000m.
// Memory costs and does not help, so it stays at 128 MiB.
func TestWindowSafeOracle(t *testing.T) {
	s, target := tinySpace(t)
	for _, tc := range []struct {
		name     string
		window   int
		missRate float64
		wantCPU  int64
	}{
		{"100 invocations, 1% of windows", 100, 0.01, 750},
		{"100 invocations, 10% of windows", 100, 0.10, 500},
		{"20 invocations, 1% of windows", 20, 0.01, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newWindowSafeOracle(s, target, tailTruth{}, tc.window, tc.missRate, OracleOptions{CPUStepMilli: 250})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := p.Best(context.Background())
			if want := (Setting{tc.wantCPU, 128 * MiB}); got["a"] != want {
				t.Errorf("chose %+v, want %+v", got["a"], want)
			}
			if p.Name() != PolicyWindowSafeOracle {
				t.Errorf("name %q", p.Name())
			}
		})
	}
	plain, err := newOracle(s, target, tailTruth{}, OracleOptions{CPUStepMilli: 250})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := plain.Best(context.Background()); got["a"] != (Setting{500, 128 * MiB}) {
		t.Errorf("p95 oracle chose %+v, want 500m/128Mi", got["a"])
	}
}

// TestWindowMissProbability checks the binomial tail against hand figures.
func TestWindowMissProbability(t *testing.T) {
	for _, tc := range []struct {
		p      float64
		window int
		exceed float64
		want   float64
	}{
		{95, 20, 0.03, 1 - math.Pow(0.97, 20) - 20*0.03*math.Pow(0.97, 19)},
		{95, 20, 0, 0},
		{50, 2, 0.5, 0.25}, // p50 of 2 is the first: both must exceed
		{99, 100, 0.5, 1 - math.Pow(0.5, 100)*101},
	} {
		if got := WindowMissProbability(tc.p, tc.window, tc.exceed); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("WindowMissProbability(%g, %d, %g) = %.6f, want %.6f", tc.p, tc.window, tc.exceed, got, tc.want)
		}
	}
}

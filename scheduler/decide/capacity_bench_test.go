package decide

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkFitPlan times one decision over n pools of 50 tenants, each
// wanting two creations, on 100 workers with room for all.
func BenchmarkFitPlan(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			pools := make([]PoolState, n)
			plan := ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}
			for i := range pools {
				f := fmt.Sprintf("t%d/w/f%d", i%50, i)
				pools[i] = PoolState{Function: f, Tenant: fmt.Sprintf("t%d", i%50), CPUMilli: 100, MemoryBytes: 64 << 20, Waiting: 2}
				plan.Create[f] = 2
			}
			workers := make([]WorkerState, 100)
			for i := range workers {
				workers[i] = WorkerState{ID: fmt.Sprintf("w%03d", i), CPUMilli: 64000, MemoryBytes: 256 << 30}
			}
			now := time.Now()
			b.ResetTimer()
			for range b.N {
				FitPlan(now, plan, pools, workers, nil)
			}
		})
	}
}

// BenchmarkPlace times one placement decision, exhaustive and sampled,
// on n workers half allocated at random: the sampled one's cost should
// not grow with n.
func BenchmarkPlace(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		ws := mixedWorkers(rand.New(rand.NewPCG(4, uint64(n))), n, 1, 0)
		req := PlacementRequest{CPUMilli: 250, MemoryBytes: 128 << 20}
		b.Run(fmt.Sprintf("exhaustive/%d", n), func(b *testing.B) {
			for range b.N {
				if _, err := PlaceIndex(ws, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("sampled/%d", n), func(b *testing.B) {
			for i := range b.N {
				if _, err := PlaceSampledIndex(ws, req, DefaultPlacementSample, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package decide

import (
	"fmt"
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

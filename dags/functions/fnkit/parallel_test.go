package fnkit

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestForEachVisitsEveryIndexOnce(t *testing.T) {
	for _, procs := range []int{1, 4} {
		for _, n := range []int{0, 1, 7, 1000} {
			prev := runtime.GOMAXPROCS(procs)
			visits := make([]int32, n)
			err := ForEach(context.Background(), n, func(i int) { atomic.AddInt32(&visits[i], 1) })
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatalf("GOMAXPROCS=%d n=%d: %v", procs, n, err)
			}
			for i, v := range visits {
				if v != 1 {
					t.Fatalf("GOMAXPROCS=%d n=%d: index %d visited %d times", procs, n, i, v)
				}
			}
		}
	}
}

func TestForEachStopsWhenCancelled(t *testing.T) {
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		ctx, cancel := context.WithCancel(context.Background())
		var calls atomic.Int32
		err := ForEach(ctx, 1_000_000, func(i int) {
			if calls.Add(1) == 10 {
				cancel()
			}
		})
		runtime.GOMAXPROCS(prev)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("GOMAXPROCS=%d: err %v, want context.Canceled", procs, err)
		}
		if c := calls.Load(); c >= 1_000_000 {
			t.Errorf("GOMAXPROCS=%d: ran all %d calls after cancel", procs, c)
		}
	}
}

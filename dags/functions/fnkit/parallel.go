package fnkit

import (
	"context"
	"runtime"
	"sync"
)

// ForEach calls fn(i) for every i in [0, n), spread over GOMAXPROCS
// goroutines (which Go derives from the sandbox's cgroup CPU limit), so a
// function's latency scales with the CPU it is given. Calls run in no
// particular order: fn must write only to state owned by i for the result to
// be deterministic. ForEach stops handing out indices once ctx is done and
// then returns ctx's error.
func ForEach(ctx context.Context, n int, fn func(i int)) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			fn(i)
		}
		return ctx.Err()
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return err
	}
	return ctx.Err()
}

package simcluster_test

import (
	"context"
	"testing"
	"time"

	"baton.dev/baton/internal/simcluster"
	"baton.dev/baton/orchestrator"
	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker/fake"
)

// TestFailedCreationLeavesTheWaiterToABusySandbox fills the only worker
// with one sandbox held busy by a slow call, queues a second request and
// has a creation for it fail (no capacity): the request is not failed,
// it waits and is served by the busy sandbox when that call ends.
func TestFailedCreationLeavesTheWaiterToABusySandbox(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const image = "baton.local/slow:v1"
	c, err := simcluster.Start(ctx, simcluster.Config{
		Workers: 1, WorkerMemoryBytes: 128 << 20, HeartbeatInterval: 50 * time.Millisecond,
		Images: map[string]fake.Mode{image: fake.ModeSlow},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	const key = "t/w/f"
	c.Router.Configure(orchestrator.FunctionConfig{Key: key, Image: image, CPUMilli: 100, MemoryBytes: 128 << 20})
	pool := func() decide.PoolState {
		for _, ps := range c.Router.PoolStates() {
			if ps.Function == key {
				return ps
			}
		}
		t.Fatalf("no pool %s", key)
		return decide.PoolState{}
	}
	waitFor := func(what string, ok func(decide.PoolState) bool) {
		t.Helper()
		for !ok(pool()) {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: pool %+v", what, pool())
			}
			time.Sleep(time.Millisecond)
		}
	}
	type answer struct {
		out []byte
		err error
	}
	invoke := func(input string) <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			out, _, err := c.Router.Invoke(ctx, key, []byte(input))
			ch <- answer{out, err}
		}()
		return ch
	}

	first := invoke(`"first"`)
	waitFor("the first request to queue", func(ps decide.PoolState) bool { return ps.Waiting == 1 })
	c.Router.Apply(decide.ScalePlan{Create: map[string]int{key: 1}})
	waitFor("the first request's call", func(ps decide.PoolState) bool { return ps.Busy == 1 })
	second := invoke(`"second"`)
	waitFor("the second request to queue", func(ps decide.PoolState) bool { return ps.Waiting == 1 })
	// The worker's memory is taken: this creation fails at placement.
	c.Router.Apply(decide.ScalePlan{Create: map[string]int{key: 1}})
	waitFor("the failed creation", func(ps decide.PoolState) bool { return ps.Creating == 0 })

	for i, ch := range []<-chan answer{first, second} {
		a := <-ch
		want := []string{`"first"`, `"second"`}[i]
		if a.err != nil || string(a.out) != want {
			t.Errorf("request %d: %q, %v; want %s served by the one sandbox", i+1, a.out, a.err, want)
		}
	}
	if ps := pool(); ps.Busy != 0 || len(ps.Idle) != 1 {
		t.Errorf("after both: %+v, want the one sandbox idle", ps)
	}
}

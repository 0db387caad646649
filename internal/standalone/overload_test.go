package standalone_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
)

// slowYAML is a one-stage workflow whose function answers after delay,
// holding memory of its sandbox.
func slowYAML(name, memory, delay string) []byte {
	return fmt.Appendf(nil, `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: %s}
spec:
  functions:
    f: {image: baton.local/testfn-ok:v1, resources: {cpu: 100m, memory: %s}, env: {BATON_TESTFN_DELAY: %s}}
  stages:
    - {name: only, function: f}
`, name, memory, delay)
}

// TestOverloadIsBounded runs a worker with room for one sandbox of a
// function that answers after 2 s, with a queue bound of 3 requests and a
// wait bound of 1 s: a request beyond the queue's bound is refused at once
// with 503 and Retry-After, the queued ones once they have waited the
// bound; the function with no room is said so in one log line and in
// baton_unplaceable_demand; asynchronous invocations are never refused for
// capacity (they wait in the stream and all complete); a function larger
// than any worker is refused at once.
func TestOverloadIsBounded(t *testing.T) {
	ctx := context.Background()
	var logs lockedBuffer
	cl, err := standalone.Start(ctx, standalone.Config{
		DataDir: shortTempDir(t), ImagesDir: testenv.Images(t), Listen: "127.0.0.1:0", Runtime: standalone.RuntimeProcess,
		WorkerMemoryBytes: 256 << 20, Postgres: "off",
		Orchestration: standalone.Orchestration{KeepAlive: time.Minute, AutoscaleTick: 50 * time.Millisecond, MaxQueue: 3, MaxQueueWait: time.Second},
		Logger:        slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	tenant := &client.Client{URL: cl.URL, Token: cl.Token}
	if _, err := tenant.Deploy(ctx, "slow.yaml", slowYAML("slow", "256Mi", "2s")); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.Deploy(ctx, "other.yaml", slowYAML("other", "256Mi", "0s")); err != nil {
		t.Fatal(err)
	}

	// The worker's room goes to one call of slow.
	slow := make(chan error, 1)
	go func() { _, err := tenant.Invoke(ctx, "slow", []byte(`{"n":0}`)); slow <- err }()
	waitFor(t, "slow's sandbox busy", func() bool { return busy(cl, "default/slow/f") })

	t.Run("a full queue refuses at once, a long wait when it is over", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { _, errs[i] = tenant.Invoke(ctx, "other", fmt.Appendf(nil, `{"q":%d}`, i)) })
		}
		waitFor(t, "three queued", func() bool { return waiting(cl, "default/other/f") == 3 })
		_, err := tenant.Invoke(ctx, "other", []byte(`{"q":"beyond"}`))
		if ce := wantStatus(t, "the request beyond the queue's bound", err, http.StatusServiceUnavailable, "queue holds the most requests"); ce != nil && ce.RetryAfter < time.Second {
			t.Errorf("Retry-After %v", ce.RetryAfter)
		}
		if got := metricValue(t, cl.URL, cl.AdminToken, `baton_unplaceable_demand{function="f",tenant="default",workflow="other"}`); got < 1 {
			t.Errorf("baton_unplaceable_demand for other = %v while its queue has no room", got)
		}
		wg.Wait()
		for i, err := range errs {
			if ce := wantStatus(t, fmt.Sprintf("queued request %d", i), err, http.StatusServiceUnavailable, "waited 1s"); ce != nil && ce.RetryAfter < time.Second {
				t.Errorf("Retry-After %v", ce.RetryAfter)
			}
		}
	})
	if err := <-slow; err != nil {
		t.Fatalf("the slow call: %v", err)
	}

	t.Run("a function with no room is said so once, not per try", func(t *testing.T) {
		// other gets room once slow's idle sandbox is removed for it.
		if _, err := tenant.Invoke(ctx, "other", []byte(`{"room":true}`)); err != nil {
			t.Fatalf("other once slow is idle: %v", err)
		}
		// Two shortages: the three queued requests (refused after 1 s,
		// some 20 plans: said), and this one (slow's call holds the
		// room; said if it lasted half a second).
		if n := logLines(logs.String(), "has no room on any worker", "function=default/other/f"); n < 1 || n > 2 {
			t.Errorf("%d lines say other has no room, want 1 or 2: at most one per shortage", n)
		}
		if n := logLines(logs.String(), "shortage of room ended", "function=default/other/f"); n < 1 || n > 2 {
			t.Errorf("%d lines say other's shortage ended, want 1 or 2 (the second may end after its request)", n)
		}
		if n := logLines(logs.String(), "sandbox creation failed"); n != 0 {
			t.Errorf("%d creation failures logged, want none: a plan creates only what has room", n)
		}
	})

	t.Run("async invocations wait for room, never refused", func(t *testing.T) {
		ids := make([]string, 6)
		for i := range ids {
			name := "slow"
			if i%2 == 1 {
				name = "other"
			}
			id, err := tenant.InvokeAsync(ctx, name, fmt.Appendf(nil, `{"async":%d}`, i))
			if err != nil {
				t.Fatalf("accept %d: %v", i, err)
			}
			ids[i] = id
		}
		for i, id := range ids {
			for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				inv, err := tenant.Invocation(ctx, id)
				if err == nil && inv.Status == api.StatusSucceeded {
					break
				}
				if err == nil && inv.Status == api.StatusFailed {
					t.Fatalf("async invocation %d failed: %s", i, inv.Error)
				}
				if time.Now().After(deadline) {
					t.Fatalf("async invocation %d did not finish: %+v, %v", i, inv, err)
				}
			}
		}
	})

	t.Run("one line per shortage and one per its end", func(t *testing.T) {
		log := logs.String()
		short, again := logLines(log, "has no room on any worker"), logLines(log, "shortage of room ended")
		t.Logf("%d lines of no room, %d of their end, in %d lines of log", short, again, logLines(log, ""))
		// slow and other take the worker in turns: each turn may start a
		// shortage of the other; 7 invocations make at most 7 turns.
		if short > 14 || again < 1 || again > short {
			t.Errorf("%d lines of no room and %d of their end: want one each per shortage", short, again)
		}
	})

	t.Run("a function larger than any worker is refused at once", func(t *testing.T) {
		if _, err := tenant.Deploy(ctx, "huge.yaml", slowYAML("huge", "1Gi", "0s")); err != nil {
			t.Fatal(err)
		}
		_, err := tenant.Invoke(ctx, "huge", []byte(`{}`))
		wantStatus(t, "a function no worker can hold", err, http.StatusServiceUnavailable, "more than any live worker has")
	})
}

// startBounded runs Baton on the process runtime with one worker holding
// sandboxes sandboxes of 128 MiB, each function's queue bounded by
// maxQueue requests and maxWait (zero: no bound), deciding every tick.
func startBounded(t *testing.T, sandboxes, maxQueue int, maxWait, tick time.Duration) *standalone.Cluster {
	t.Helper()
	cl := startBaton(t, standalone.Config{Runtime: standalone.RuntimeProcess, WorkerMemoryBytes: int64(sandboxes) * 128 << 20,
		Orchestration: standalone.Orchestration{KeepAlive: time.Minute, AutoscaleTick: tick, MaxQueue: maxQueue, MaxQueueWait: maxWait}}, slog.LevelWarn)
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	return cl
}

// waiting counts the requests queued for the pool of key.
func waiting(cl *standalone.Cluster, key string) int {
	for _, p := range cl.Orchestrator.PoolStates() {
		if p.Function == key {
			return p.Waiting
		}
	}
	return 0
}

// logLines counts the lines of log that hold every one of parts.
func logLines(log string, parts ...string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// TestTwoTenantsUnderAFlood runs a worker with room for four sandboxes of
// 128 MiB, each call taking 100 ms (40 calls/s in all). Tenant B sends a
// steady 5 calls/s, first alone, then while tenant A sends 400/s, ten
// times what the worker serves, B's workflow cold each time. B's calls all
// succeed and none is refused (its first, under the flood, is given room
// from A's share), and its p99 is reported against its p99 alone; A's
// calls beyond the queue's bounds are refused with 503 and Retry-After,
// none times out.
func TestTwoTenantsUnderAFlood(t *testing.T) {
	ctx := context.Background()
	cl := startBounded(t, 4, 20, 2*time.Second, 100*time.Millisecond)
	admin := &client.Client{URL: cl.URL, Token: cl.AdminToken}
	var tenants [2]*client.Client
	for i, name := range []string{"flood", "steady"} {
		tv, err := admin.CreateTenant(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		tenants[i] = &client.Client{URL: cl.URL, Token: tv.Key, HTTP: &http.Client{Timeout: 30 * time.Second}}
		for _, w := range []string{"w", "w2"} {
			if _, err := tenants[i].Deploy(ctx, w+".yaml", slowYAML(w, "128Mi", "100ms")); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, b := tenants[0], tenants[1]
	const seconds = 8

	// B's workflow starts cold each time: alone, and under the flood,
	// where its first call finds A holding every sandbox and must be given
	// room (a fair share), not wait out the queue's bound.
	alone := pace(ctx, b, "w", 5, seconds)
	if alone.failed > 0 {
		t.Fatalf("B alone: %d of %d failed (%v)", alone.failed, alone.sent, alone.firstErr)
	}
	// B keeps no warm sandbox: all the room is A's when the flood starts.
	if err := b.DeleteWorkflow(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B without sandboxes", func() bool { return tenantSandboxes(cl, "steady") == 0 })
	var flood, steady outcome
	var wg sync.WaitGroup
	wg.Go(func() { flood = pace(ctx, a, "w", 400, seconds) })
	wg.Go(func() {
		waitFor(t, "A holding the whole worker", func() bool { return tenantSandboxes(cl, "flood") == 4 })
		steady = pace(ctx, b, "w2", 5, seconds)
	})
	wg.Wait()
	ratio := float64(steady.p99()) / float64(alone.p99())
	t.Logf("B alone: p50 %v p99 %v; B under A's flood: p50 %v p99 %v (p99 ratio %.2f); A: %d sent, %d served, %d refused with Retry-After, %d failed otherwise (%v)",
		alone.p50(), alone.p99(), steady.p50(), steady.p99(), ratio, flood.sent, len(flood.served), flood.refused, flood.failed, flood.firstErr)
	if steady.failed > 0 || steady.refused > 0 {
		t.Errorf("B under the flood: %d refused, %d failed of %d (%v)", steady.refused, steady.failed, steady.sent, steady.firstErr)
	}
	// The ratio is reported, not asserted (timings do not belong in
	// tests): of 40 calls the p99 is the slowest, the cold start, which
	// under the flood also waits for one of A's calls to end. Without the
	// fair share B's first calls wait out the queue's bound and are
	// refused, which the check above catches.
	if flood.failed > 0 {
		t.Errorf("A: %d calls failed other than by a refusal with Retry-After (%v)", flood.failed, flood.firstErr)
	}
	if flood.refused == 0 {
		t.Error("A sent ten times the capacity and nothing was refused: the queue is not bounded")
	}
}

// outcome is what paced calls of one tenant came to.
type outcome struct {
	sent, refused, failed int
	served                []time.Duration
	firstErr              error
}

func (o outcome) p50() time.Duration { return o.quantile(0.50) }
func (o outcome) p99() time.Duration { return o.quantile(0.99) }

// quantile is the nearest-rank quantile of the served calls' times.
func (o outcome) quantile(q float64) time.Duration {
	if len(o.served) == 0 {
		return 0
	}
	s := slices.Clone(o.served)
	slices.Sort(s)
	return s[int(math.Ceil(q*float64(len(s))))-1]
}

// pace invokes c's workflow w at rate per second, open loop, for seconds.
func pace(ctx context.Context, c *client.Client, w string, rate float64, seconds int) outcome {
	var mu sync.Mutex
	var o outcome
	var wg sync.WaitGroup
	start := time.Now()
	for i := range int(rate * float64(seconds)) {
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		wg.Go(func() {
			t0 := time.Now()
			_, err := c.Invoke(ctx, w, []byte(`{}`))
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			o.sent++
			var ce *client.Error
			switch {
			case err == nil:
				o.served = append(o.served, d)
			case errors.As(err, &ce) && (ce.Status == http.StatusServiceUnavailable || ce.Status == http.StatusTooManyRequests) && ce.RetryAfter > 0:
				o.refused++
			default:
				o.failed++
				if o.firstErr == nil {
					o.firstErr = err
				}
			}
		})
	}
	wg.Wait()
	return o
}

// TestAsyncInvocationsSurviveOverload accepts 1,000 asynchronous
// invocations while synchronous calls of the same workflow offer three
// times what the worker serves: every accepted invocation completes, each
// ran its function once (one call, one attempt), none is lost; the
// synchronous excess is refused with Retry-After.
func TestAsyncInvocationsSurviveOverload(t *testing.T) {
	ctx := context.Background()
	cl := startBounded(t, 2, 20, 500*time.Millisecond, 100*time.Millisecond)
	c := &client.Client{URL: cl.URL, Token: cl.Token, HTTP: &http.Client{Timeout: 30 * time.Second}}
	if _, err := c.Deploy(ctx, "w.yaml", slowYAML("w", "128Mi", "20ms")); err != nil {
		t.Fatal(err)
	}
	var flood outcome
	var wg sync.WaitGroup
	wg.Go(func() { flood = pace(ctx, c, "w", 300, 5) }) // 3x the worker's 100 calls/s
	ids := make([]string, 1000)
	var accept sync.WaitGroup
	var rejected atomic.Int64
	for g := range 20 {
		accept.Go(func() {
			for i := g; i < len(ids); i += 20 {
				id, err := c.InvokeAsync(ctx, "w", fmt.Appendf(nil, `{"async":%d}`, i))
				if err != nil {
					rejected.Add(1)
					t.Errorf("accept %d: %v", i, err)
					continue
				}
				ids[i] = id
			}
		})
	}
	accept.Wait()
	wg.Wait()
	if rejected.Load() > 0 {
		t.Fatalf("%d asynchronous invocations were not accepted", rejected.Load())
	}
	t.Logf("during the async run, the sync flood: %d sent, %d served, %d refused with Retry-After, %d failed (%v)",
		flood.sent, len(flood.served), flood.refused, flood.failed, flood.firstErr)
	if flood.failed > 0 {
		t.Errorf("%d synchronous calls failed other than by a refusal with Retry-After", flood.failed)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var twice, pending int
	for i, id := range ids {
		for {
			inv, err := c.Invocation(ctx, id)
			if err == nil && inv.Status == api.StatusFailed {
				t.Fatalf("async invocation %d failed: %s", i, inv.Error)
			}
			if err == nil && inv.Status == api.StatusSucceeded {
				if len(inv.Stages) != 1 || inv.Stages[0].Calls != 1 || inv.Stages[0].Attempts != 1 {
					twice++
				}
				break
			}
			if time.Now().After(deadline) {
				pending++
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if pending > 0 || twice > 0 {
		t.Errorf("of 1,000 accepted invocations %d did not complete within two minutes and %d ran their function more than once", pending, twice)
	}
}

// TestWorkflowQueueBounds checks a workflow's own spec.queue over the
// orchestrator's (which bounds nothing here): with room for one sandbox
// busy for a second, a second request queues, a third is refused at once
// naming spec.queue.maxWaiting, and the second is refused once it has
// waited spec.queue.maxWait; a redeploy that changes only the bounds keeps
// the sandbox.
func TestWorkflowQueueBounds(t *testing.T) {
	ctx := context.Background()
	cl := startBounded(t, 1, 0, 0, 50*time.Millisecond) // the orchestrator bounds nothing
	c := &client.Client{URL: cl.URL, Token: cl.Token}
	doc := func(bounds string) []byte {
		return []byte(strings.Replace(string(slowYAML("q", "128Mi", "1s")), "spec:\n", "spec:\n  queue: "+bounds+"\n", 1))
	}
	if _, err := c.Deploy(ctx, "q.yaml", doc("{maxWaiting: 1, maxWait: 300ms}")); err != nil {
		t.Fatal(err)
	}
	first, err := c.Invoke(ctx, "q", []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	busyCall := make(chan error, 1)
	go func() { _, err := c.Invoke(ctx, "q", []byte(`{"n":2}`)); busyCall <- err }()
	waitFor(t, "the sandbox busy", func() bool { return busy(cl, "default/q/f") })
	queued := make(chan error, 1)
	go func() { _, err := c.Invoke(ctx, "q", []byte(`{"n":3}`)); queued <- err }()
	waitFor(t, "one queued", func() bool { return waiting(cl, "default/q/f") == 1 })
	_, err = c.Invoke(ctx, "q", []byte(`{"n":4}`))
	wantStatus(t, "the request beyond spec.queue.maxWaiting", err, http.StatusServiceUnavailable, "(1, spec.queue.maxWaiting)")
	wantStatus(t, "the request queued beyond spec.queue.maxWait", <-queued, http.StatusServiceUnavailable, "waited 300ms", "spec.queue.maxWait")
	if err := <-busyCall; err != nil {
		t.Fatal(err)
	}

	if _, err := c.Deploy(ctx, "q.yaml", doc("{maxWaiting: 5}")); err != nil {
		t.Fatal(err)
	}
	again, err := c.Invoke(ctx, "q", []byte(`{"n":5}`))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := c.Invocation(ctx, first.InvocationID)
	after, _ := c.Invocation(ctx, again.InvocationID)
	if before == nil || after == nil || before.Stages[0].Sandbox != after.Stages[0].Sandbox || again.ColdStarts != 0 {
		t.Errorf("a redeploy that changed only the queue's bounds replaced the sandbox (cold starts %d)", again.ColdStarts)
	}
}

// TestReservationsNeverExceedCapacity runs a worker offering 1000m with no
// CPU over-commit and two workflows whose functions ask 600m each, called
// together over and over: a worker's reservations never exceed its
// capacity (sampled all along), and both are served, one sandbox at a time
// (placement once put both on the worker, 1200m on 1000m).
func TestReservationsNeverExceedCapacity(t *testing.T) {
	ctx := context.Background()
	cl := startBaton(t, standalone.Config{Runtime: standalone.RuntimeProcess, WorkerCPUMilli: 1000, WorkerCPUAllocationRatio: 1, WorkerMemoryBytes: 1 << 30,
		Orchestration: standalone.Orchestration{KeepAlive: time.Minute, AutoscaleTick: 50 * time.Millisecond, MaxQueueWait: 20 * time.Second}}, slog.LevelWarn)
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	tenant := &client.Client{URL: cl.URL, Token: cl.Token, HTTP: &http.Client{Timeout: 30 * time.Second}}
	admin := &client.Client{URL: cl.URL, Token: cl.AdminToken}
	for _, w := range []string{"a", "b"} {
		yaml := strings.Replace(string(slowYAML(w, "64Mi", "50ms")), "cpu: 100m", "cpu: 600m", 1)
		if _, err := tenant.Deploy(ctx, w+".yaml", []byte(yaml)); err != nil {
			t.Fatal(err)
		}
	}
	var over []string
	var samples int
	stopSampling := sampleWorkers(ctx, admin, 20*time.Millisecond, func(ws []api.WorkerView, err error) {
		if err != nil {
			return
		}
		samples++
		for _, w := range ws {
			if w.ReservedCPUMilli > w.CPUMilli || w.ReservedMemoryBytes > w.MemoryBytes {
				over = append(over, fmt.Sprintf("%s: cpu %d/%dm, memory %d/%d", w.ID, w.ReservedCPUMilli, w.CPUMilli, w.ReservedMemoryBytes, w.MemoryBytes))
			}
		}
	})
	var calls sync.WaitGroup
	errs := make(chan error, 40)
	for range 10 {
		for _, w := range []string{"a", "b"} {
			calls.Go(func() {
				if _, err := tenant.Invoke(ctx, w, []byte(`{}`)); err != nil {
					errs <- fmt.Errorf("workflow %s: %w", w, err)
				}
			})
		}
	}
	calls.Wait()
	stopSampling()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if samples == 0 {
		t.Fatal("no sample of the workers was taken")
	}
	if len(over) > 0 {
		t.Errorf("%d of %d samples had reservations beyond capacity, first: %s", len(over), samples, over[0])
	}
}

// TestABurstDrainsAndScalesDown floods a worker with room for four
// sandboxes at ten times what it serves for 4 s: all along the worker's
// heartbeats arrive (it stays ready, its last heartbeat under a second
// old); when the burst ends the queue drains, the pool scales back down
// to its floor (zero) once the keep-alive passes, and the goroutines the
// burst started are gone.
func TestABurstDrainsAndScalesDown(t *testing.T) {
	ctx := context.Background()
	cl := startBaton(t, standalone.Config{Runtime: standalone.RuntimeProcess, WorkerMemoryBytes: 4 * 128 << 20,
		Orchestration: standalone.Orchestration{KeepAlive: 2 * time.Second, AutoscaleTick: 100 * time.Millisecond, MaxQueue: 20, MaxQueueWait: 2 * time.Second}}, slog.LevelWarn)
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	c := &client.Client{URL: cl.URL, Token: cl.Token, HTTP: &http.Client{Timeout: 30 * time.Second}}
	admin := &client.Client{URL: cl.URL, Token: cl.AdminToken}
	if _, err := c.Deploy(ctx, "w.yaml", slowYAML("w", "128Mi", "100ms")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx, "w", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	goroutinesBefore := runtime.NumGoroutine()

	var late []string
	stopSampling := sampleWorkers(ctx, admin, 100*time.Millisecond, func(ws []api.WorkerView, err error) {
		if err != nil {
			late = append(late, err.Error())
			return
		}
		for _, w := range ws {
			if age := time.Since(w.LastHeartbeat); w.State != "ready" || age > time.Second {
				late = append(late, fmt.Sprintf("%s %s, last heartbeat %v ago", w.ID, w.State, age.Round(time.Millisecond)))
			}
		}
	})
	burst := pace(ctx, c, "w", 400, 4)
	stopSampling()
	t.Logf("burst: %d sent, %d served, %d refused with Retry-After, %d failed otherwise", burst.sent, len(burst.served), burst.refused, burst.failed)
	if burst.failed > 0 {
		t.Errorf("%d calls failed other than by a refusal with Retry-After (%v)", burst.failed, burst.firstErr)
	}
	if len(late) > 0 {
		t.Errorf("heartbeats starved during the burst, %d samples, first: %s", len(late), late[0])
	}
	key := "default/w/f"
	waitFor(t, "the queue to drain", func() bool { return waiting(cl, key) == 0 })
	waitFor(t, "the pool back at its floor of zero", func() bool { return tenantSandboxes(cl, "default") == 0 })
	// The burst's goroutines (a handler and a client call per request)
	// are gone; a few idle connections may remain.
	waitFor(t, "the burst's goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutinesBefore+20 })
}

// sampleWorkers lists the workers (admin's GET /v1/workers) every period
// and hands each answer to check, in one goroutine, until the returned
// stop is called; stop returns once check has seen its last answer.
func sampleWorkers(ctx context.Context, admin *client.Client, every time.Duration, check func([]api.WorkerView, error)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(every):
			}
			check(admin.Workers(ctx))
		}
	})
	return func() { close(done); wg.Wait() }
}

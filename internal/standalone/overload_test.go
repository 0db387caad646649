package standalone_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
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
	waitFor(t, "slow's sandbox busy", func() bool { return busy(t, cl, "default/slow/f") })

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
		// some 20 plans), and this one (slow's call holds the room).
		if n := logLines(logs.String(), "has no room on any worker", "function=default/other/f"); n != 2 {
			t.Errorf("%d lines say other has no room, want 2, one per shortage", n)
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

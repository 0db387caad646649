package standalone_test

import (
	"context"
	"flag"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"baton.dev/baton/orchestrator/client"
)

var outage = flag.Duration("outage", 3*time.Second, "how long TestPostgresOutageLosesNothing keeps Postgres down (the issue's figure uses 30s)")

// TestPostgresOutageLosesNothing invokes a workflow steadily while
// Postgres is stopped and started again: no invocation fails, and every
// invocation is in history afterwards.
//
//	go test -run TestPostgresOutage -v ./internal/standalone/ -args -outage 30s
func TestPostgresOutageLosesNothing(t *testing.T) {
	ctx := context.Background()
	cl := startProcessCluster(t, shortTempDir(t))
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	api := &client.Client{URL: cl.URL, Token: cl.Token}
	if _, err := api.Deploy(ctx, "steady.yaml", []byte(wfYAML("steady", "testfn-ok", "- {name: a, function: f}\n    - {name: b, function: f, needs: [a]}"))); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Invoke(ctx, "steady", []byte(`{}`)); err != nil { // warm
		t.Fatal(err)
	}
	start := time.Now()

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := api.Invoke(ctx, "steady", []byte(`{"x":1}`)); err != nil {
					failed.Add(1)
					t.Errorf("invocation during the outage: %v", err)
				} else {
					ok.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := cl.Postgres.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	before := ok.Load()
	time.Sleep(*outage)
	during := ok.Load() - before
	if err := cl.Postgres.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	end := time.Now()

	st := cl.Orchestrator.HistoryStats()
	t.Logf("%d invocations (%d while Postgres was down for %s), %d failed; history: %+v", ok.Load(), during, *outage, failed.Load(), st)
	if during == 0 {
		t.Fatal("no invocation completed while Postgres was down")
	}
	if st.Dropped != 0 {
		t.Errorf("history dropped %d records", st.Dropped)
	}
	want := int(ok.Load())
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := cl.Orchestrator.HistoryCount(ctx, "default", "steady", start, end)
		if err == nil && n == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history has %d invocations (%v) of the %d made", n, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

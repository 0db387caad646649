package faulttest_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"baton.dev/baton/internal/faulttest"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
)

// TestReplicasLoseNothing runs two orchestrator replicas and a worker
// against one NATS server. 1,000 asynchronous invocations are accepted
// and the leader is killed at once: every one completes, each stage run
// once (one call, one attempt). Then every replica is restarted in turn
// (SIGTERM, then started again: a rolling upgrade) under steady
// synchronous load through a client that knows both: no invocation
// fails. Then the NATS server restarts: the leader keeps its lease (the
// same replica, the same term) and invocations go on. History goes to
// one Postgres from whichever replica leads: the rolling restart's
// invocations each have their row.
func TestReplicasLoseNothing(t *testing.T) {
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	pg := testenv.Postgres(t) // one history for every replica
	w := faulttest.StartWorker(t, bin, ns.URL(), "w1", "process", shortDir(t, "bw-"), images, "10.188.0.0/16")
	defer w.Terminate(t)

	ids := []string{"r1", "r2"}
	ports := []int{faulttest.FreePort(t), faulttest.FreePort(t)}
	dirs := []string{t.TempDir(), t.TempDir()}
	reps := make([]*faulttest.Orchestrator, 2)
	var token, admin string
	start := func(i int) {
		reps[i] = faulttest.StartOrchestrator(t, bin, ns.URL(), dirs[i], ports[i], token, admin, "--replica-id", ids[i], "--lease-ttl", testLeaseTTL, "--postgres", pg.URL())
		token, admin = reps[i].Token, reps[i].AdminToken
	}
	start(0)
	start(1)
	faulttest.WaitWorkers(ctx, t, reps[0].URL, 1, 30*time.Second)
	urls := reps[0].URL + "," + reps[1].URL
	c := &client.Client{URL: urls, Token: token, HTTP: &http.Client{Timeout: time.Minute}}
	ac := &client.Client{URL: urls, Token: admin}
	leader := func() int {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			v, err := ac.Cluster(ctx)
			if err == nil && v.Leader != nil {
				for i, id := range ids {
					if id == v.Leader.ID {
						return i
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no leader: %+v, %v", v, err)
			}
		}
	}
	if _, err := c.Deploy(ctx, "k.yaml", chainYAML("k", "testfn-ok", 2)); err != nil {
		t.Fatal(err)
	}

	// 1,000 accepted, then the leader dies.
	const n = 1000
	accepted := make([]string, n)
	var accept sync.WaitGroup
	errs := make(chan error, n)
	for g := range 8 {
		accept.Go(func() {
			for i := g; i < n; i += 8 {
				id, err := c.InvokeAsync(ctx, "k", fmt.Appendf(nil, `{"i":%d}`, i))
				if err != nil {
					errs <- err
					return
				}
				accepted[i] = id
			}
		})
	}
	accept.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("accept an async invocation: %v", err)
	}
	l := leader()
	reps[l].Kill(t)
	start(l)
	deadline := time.Now().Add(3 * time.Minute)
	for i, id := range accepted {
		for _, st := range waitSucceeded(ctx, t, c, i, id, deadline).Stages {
			if st.Calls != 1 || st.Attempts != 1 {
				t.Errorf("async invocation %d, stage %s: %d calls, %d attempts; want one of each", i, st.Stage, st.Calls, st.Attempts)
			}
		}
	}

	// A rolling restart under load: nothing fails.
	stop := make(chan struct{})
	var mu sync.Mutex
	var sent int
	var failures []error
	var done []string // the invocations that succeeded
	var load sync.WaitGroup
	load.Go(func() {
		var calls sync.WaitGroup
		defer calls.Wait()
		for tick := time.NewTicker(50 * time.Millisecond); ; {
			select {
			case <-stop:
				tick.Stop()
				return
			case <-tick.C:
			}
			calls.Go(func() {
				res, err := c.Invoke(ctx, "k", []byte(`{}`))
				mu.Lock()
				defer mu.Unlock()
				sent++
				if err != nil {
					failures = append(failures, err)
				} else {
					done = append(done, res.InvocationID)
				}
			})
		}
	})
	for _, i := range []int{1 - leader(), leader()} { // the standby first, then the leader
		time.Sleep(time.Second)
		reps[i].Terminate(t)
		start(i)
	}
	time.Sleep(time.Second)
	close(stop)
	load.Wait()
	t.Logf("rolling restart: %d invocations, %d failed", sent, len(failures))
	for _, err := range failures {
		t.Errorf("an invocation failed during the rolling restart: %v", err)
	}
	// History went on from each leader in turn, the stopped ones writing
	// what they held before they ended: every invocation of the rolling
	// restart has its one row.
	db, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var rows int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := db.QueryRow(ctx, "SELECT count(*) FROM invocations WHERE id = ANY($1)", done).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows == len(done) || time.Now().After(deadline) {
			break
		}
	}
	if rows != len(done) {
		t.Errorf("history holds %d of the rolling restart's %d invocations", rows, len(done))
	}

	// NATS restarts: the same leader keeps the lease.
	before, err := ac.Cluster(ctx)
	if err != nil || before.Leader == nil {
		t.Fatalf("cluster before NATS restarts: %+v, %v", before, err)
	}
	ns.Stop()
	time.Sleep(time.Second)
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := c.Invoke(ctx, "k", []byte(`{}`)); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no invocation succeeded within 30s of NATS restarting: %v", err)
		}
	}
	after, err := ac.Cluster(ctx)
	if err != nil || after.Leader == nil || after.Leader.ID != before.Leader.ID || after.Leader.Term != before.Leader.Term {
		t.Errorf("leader before NATS restarted %+v, after %+v (%v): want the same replica at the same term", before.Leader, after.Leader, err)
	}
}

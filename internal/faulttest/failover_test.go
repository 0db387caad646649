package faulttest_test

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd"

	"baton.dev/baton/internal/faulttest"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
)

// testLeaseTTL is the replicas' lease in these tests: longer than the
// default, so that a replica starved of CPU by the other tests running
// beside it is not taken for dead (it would be deposed, and exit).
const testLeaseTTL = "1s"

// TestLeaderKilledUnderLoad runs two orchestrator replicas against one
// NATS server and a containerd worker, and invokes a warm workflow at a
// steady 40/s through a client that knows both replicas. The leader is
// killed with SIGKILL: the standby leads within the lease's TTL plus its
// start; the invocations that fail are at most those in flight in the
// dead process; every one after the takeover succeeds; the new leader
// adopted the sandboxes (every container containerd runs is one it
// knows: none orphaned, none made twice). The killed replica, started again, is a
// standby. Then the new leader is paused (SIGSTOP) past the lease's TTL:
// the restarted replica takes over at a newer term, and the paused one,
// let go on, finds itself deposed and exits, and the workers refuse what
// it sends (its term is older).
func TestLeaderKilledUnderLoad(t *testing.T) {
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	wdir := shortDir(t, "bw-")
	w := faulttest.StartWorker(t, bin, ns.URL(), "w1", "containerd", wdir, images, "10.186.0.0/16")
	defer w.Terminate(t)

	ports := []int{faulttest.FreePort(t), faulttest.FreePort(t)}
	start := func(i int, token, admin string) *faulttest.Orchestrator {
		return faulttest.StartOrchestrator(t, bin, ns.URL(), t.TempDir(), ports[i], token, admin, "--replica-id", []string{"r1", "r2"}[i], "--lease-ttl", testLeaseTTL)
	}
	r1 := start(0, "", "")
	faulttest.WaitWorkers(ctx, t, r1.URL, 1, 30*time.Second)
	r2 := start(1, r1.Token, r1.AdminToken)
	admin := &client.Client{URL: r2.URL, Token: r1.AdminToken}
	if v, err := admin.Cluster(ctx); err != nil || v.Role != "standby" || v.Leader == nil || v.Leader.ID != "r1" || v.Leader.Term != 1 {
		t.Fatalf("r2's view of the cluster: %+v, %v; want a standby seeing r1 lead at term 1", v, err)
	}

	// Deployed through the standby: forwarded to the leader.
	c := &client.Client{URL: r1.URL + "," + r2.URL, Token: r1.Token, HTTP: &http.Client{Timeout: 30 * time.Second}}
	standby := &client.Client{URL: r2.URL, Token: r1.Token}
	if _, err := standby.Deploy(ctx, "f.yaml", chainYAML("f", "testfn-ok", 2)); err != nil {
		t.Fatalf("deploy through the standby: %v", err)
	}
	for range 3 {
		if _, err := c.Invoke(ctx, "f", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	ctrd, err := containerd.New(filepath.Join(wdir, "containerd", "containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ctrd.Close()
	sameSandboxes(t, r1, ctrd)

	// Steady load; the leader dies a second in.
	type outcome struct {
		at, done time.Time
		err      error
	}
	var mu sync.Mutex
	var outcomes []outcome
	stop := make(chan struct{})
	var load sync.WaitGroup
	load.Go(func() {
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		var calls sync.WaitGroup
		defer calls.Wait()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			calls.Go(func() {
				at := time.Now()
				_, err := c.Invoke(ctx, "f", []byte(`{}`))
				mu.Lock()
				outcomes = append(outcomes, outcome{at, time.Now(), err})
				mu.Unlock()
			})
		}
	})
	time.Sleep(time.Second)
	kill := time.Now()
	r1.Kill(t)
	dead := time.Now() // Kill returns once the process is gone
	time.Sleep(4 * time.Second)
	close(stop)
	load.Wait()

	// In flight in the dead process: sent before it was gone, not
	// answered before the kill began.
	var failed, inFlight int
	var firstOK time.Time
	for _, o := range outcomes {
		during := o.at.Before(dead) && o.done.After(kill)
		if during {
			inFlight++
		}
		if o.err != nil {
			failed++
			if !during {
				t.Errorf("an invocation sent %v after the leader died failed: %v", o.at.Sub(dead).Round(time.Millisecond), o.err)
			}
			continue
		}
		if o.at.After(dead) && (firstOK.IsZero() || o.done.Before(firstOK)) {
			firstOK = o.done
		}
	}
	t.Logf("%d invocations, %d failed, %d in flight at the kill; the first sent after it succeeded %v after the kill",
		len(outcomes), failed, inFlight, firstOK.Sub(kill).Round(time.Millisecond))
	if firstOK.IsZero() {
		t.Fatal("no invocation succeeded after the leader was killed")
	}
	if v, err := admin.Cluster(ctx); err != nil || v.Role != "leader" || v.Leader.ID != "r2" || v.Leader.Term != 2 {
		t.Fatalf("r2 after the kill: %+v, %v; want it leading at term 2", v, err)
	}
	// The new leader adopted the sandbox and scaled up for the calls
	// that waited out the election: every container is one it knows.
	sameSandboxes(t, r2, ctrd)

	// The killed replica comes back as a standby.
	r1 = start(0, r1.Token, r1.AdminToken)
	back := &client.Client{URL: r1.URL, Token: r1.AdminToken}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		v, err := back.Cluster(ctx)
		if err == nil && v.Role == "standby" && v.Leader != nil && v.Leader.ID == "r2" {
			break
		}
		if time.Now().After(deadline) || (err == nil && v.Role == "leader") {
			t.Fatalf("r1 restarted: %+v, %v; want a standby seeing r2 lead", v, err)
		}
	}

	// r2 paused past the lease: r1 takes over; r2, let go on, is deposed.
	if err := r2.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := back.Cluster(ctx)
		if err == nil && v.Role == "leader" && v.Leader.Term == 3 {
			break
		}
		if time.Now().After(deadline) {
			_ = r2.Signal(syscall.SIGCONT)
			t.Fatalf("r1 did not take over from the paused r2: %+v, %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := r2.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := r2.Wait(t, 30*time.Second); err == nil {
		t.Error("the deposed replica exited with no error")
	}
	if !regexp.MustCompile(`another replica took the leader's lease`).MatchString(r2.Log()) {
		t.Error("the deposed replica did not say it was deposed")
	}
	c = &client.Client{URL: r1.URL, Token: r1.Token}
	if _, err := c.Invoke(ctx, "f", []byte(`{}`)); err != nil {
		t.Errorf("invoke through the new leader: %v", err)
	}
	sameSandboxes(t, r1, ctrd)
}

// sameSandboxes waits until the orchestrator's sandboxes and
// containerd's containers agree (creations in flight end), and fails the
// test if they do not within 20 s: a container the leader does not know
// is orphaned, one it knows twice was made twice.
func sameSandboxes(t *testing.T, leader *faulttest.Orchestrator, ctrd *containerd.Client) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		known, running := sandboxesKnown(t, leader), containerCount(t, ctrd)
		if known == running {
			t.Logf("the leader knows %d sandboxes; containerd runs %d containers", known, running)
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the leader knows %d sandboxes, containerd runs %d containers: orphaned or made twice", known, running)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

package faulttest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/faulttest"
	"baton.dev/baton/internal/procsweep"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
	ctrd "baton.dev/baton/worker/containerd"
)

// namedYAML is a workflow of one idempotent function that answers with
// its own name.
func namedYAML(name string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: %s}
spec:
  functions:
    f: {image: baton.local/testfn-ok:v1, resources: {cpu: 100m, memory: 64Mi}, idempotent: true, env: {BATON_TESTFN_NAME: %s}}
  stages:
    - {name: only, function: f}
`, name, name))
}

// namedLoad invokes the named workflows at random from a few goroutines
// until stop, checking that each answer comes from the function invoked.
type namedLoad struct {
	ok, wrong, failed atomic.Int64
	stop              chan struct{}
	once              sync.Once
	wg                sync.WaitGroup
}

func startNamedLoad(t *testing.T, api *client.Client, names []string, clients int) *namedLoad {
	l := &namedLoad{stop: make(chan struct{})}
	for g := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				name := names[rand.IntN(len(names))]
				in := fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				res, err := api.Invoke(ctx, name, []byte(in))
				cancel()
				switch {
				case err != nil:
					if l.failed.Add(1) <= 5 {
						t.Logf("invocation of %s %s failed: %v", name, in, err)
					}
					time.Sleep(50 * time.Millisecond) // as a client told 503 would
				case string(res.Output) != name+":"+in:
					l.wrong.Add(1)
					t.Errorf("invocation of %s %s answered %q: another function's code ran", name, in, res.Output)
				default:
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *namedLoad) end() { l.once.Do(func() { close(l.stop) }); l.wg.Wait() }

// leftovers lists the processes that run from dirs and whether anything
// is still mounted there.
func leftovers(t *testing.T, dirs ...string) (procs []int, mounted bool) {
	t.Helper()
	procs, err := procsweep.Find(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		m, err := procsweep.Mounted(d)
		if err != nil {
			t.Fatal(err)
		}
		mounted = mounted || m
	}
	return procs, mounted
}

// TestReplacedWorkerServesOnlyItsOwnFunctions is the fault that once sent
// one function's requests to another's code: a containerd worker is
// killed with -9 under load (its containerd, shims and sandboxes live
// on, holding their addresses), its data directory is
// deleted, and a new worker starts on the same subnet with a fresh one.
// Nothing of the old worker may survive the new one's start, and every
// answer must come from the function invoked, at addresses the new
// worker hands out again.
func TestReplacedWorkerServesOnlyItsOwnFunctions(t *testing.T) {
	const subnet = "10.167.0.0/16"
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	// A registry of this test's own: a worker of another test starting on
	// this machine meanwhile would sweep the killed worker first, and tell
	// its own orchestrator, not this one.
	registry := []string{"--registry", shortDir(t, "br-")}
	oldDir := shortDir(t, "bw-")
	w1 := faulttest.StartWorker(t, bin, ns.URL(), "w1", "containerd", oldDir, images, subnet, registry...)
	w2Dir := shortDir(t, "bw-")
	w2 := faulttest.StartWorker(t, bin, ns.URL(), "w2", "process", w2Dir, images, "10.166.0.0/16", registry...)
	orc := faulttest.StartOrchestrator(t, bin, ns.URL(), t.TempDir(), faulttest.FreePort(t), "", "")
	faulttest.WaitWorkers(ctx, t, orc.URL, 2, 30*time.Second)
	api := orc.Client()
	admin := &client.Client{URL: orc.URL, Token: orc.AdminToken}
	names := []string{"fa", "fb", "fc", "fd"}
	for _, n := range names {
		if _, err := api.Deploy(ctx, n+".yaml", namedYAML(n)); err != nil {
			t.Fatal(err)
		}
	}
	// Every sandbox on w1 first: it holds the addresses that the new
	// worker will hand out again.
	if err := admin.Drain(ctx, "w2", true); err != nil {
		t.Fatal(err)
	}
	load := startNamedLoad(t, api, names, 6)
	defer load.end()
	time.Sleep(3 * time.Second)
	if err := admin.Drain(ctx, "w2", false); err != nil {
		t.Fatal(err)
	}
	oldDirs := []string{oldDir, ctrd.SocketDir(filepath.Join(oldDir, "containerd"))}
	before, _ := leftovers(t, oldDirs...)
	if len(before) < 3 {
		t.Fatalf("%d processes run from the old worker's directories before the kill (containerd, shims, sandboxes); the test looks in the wrong place", len(before))
	}

	w1.Kill(t) // the worker alone: its containerd, shims and sandboxes live on
	stranded := waitStranded(ctx, t, admin, "w1", func(n int) bool { return n > 0 })
	_ = os.RemoveAll(oldDir)
	newDir := shortDir(t, "bw-")
	w1 = faulttest.StartWorker(t, bin, ns.URL(), "w1", "containerd", newDir, images, subnet, registry...)
	defer w1.Terminate(t)
	if procs, mounted := leftovers(t, oldDirs...); len(procs) > 0 || mounted {
		t.Errorf("after the new worker started, %d processes of the old one still run (%v) and its mounts are there: %v", len(procs), procs, mounted)
	}
	if line := w1.WaitLog(t, regexp.MustCompile(`removed what a dead worker left running.*`), 5*time.Second); !strings.Contains(line, "processes_killed") {
		t.Errorf("the sweep's log line: %q", line)
	}
	faulttest.WaitWorkers(ctx, t, orc.URL, 2, 30*time.Second)
	waitStranded(ctx, t, admin, "w1", func(n int) bool { return n == 0 })
	// Only w1 now: w2 goes as a machine does, with its sandboxes, so the
	// load moves to sandboxes at w1's reused addresses.
	killWorkerAndSandboxes(t, w2, w2Dir)
	time.Sleep(5 * time.Second)
	load.end()
	t.Logf("%d invocations answered by the right function, %d by another, %d failed; the dead worker's %d sandboxes stranded until its replacement started; processes of the old worker left: %d before, 0 after",
		load.ok.Load(), load.wrong.Load(), load.failed.Load(), stranded, len(before))
	if load.ok.Load() == 0 {
		t.Fatal("no invocation succeeded")
	}
	if load.wrong.Load() > 0 {
		t.Errorf("%d answers came from another function", load.wrong.Load())
	}
}

// waitStranded waits until the orchestrator shows worker id's stranded
// sandboxes as ok says, and returns their number.
func waitStranded(ctx context.Context, t *testing.T, admin *client.Client, id string, ok func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		list, err := admin.Workers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range list {
			if w.ID == id && ok(w.Stranded) {
				return w.Stranded
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s's stranded sandboxes never became as wanted: %+v", id, list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWorkerRestartedOnItsDataAdoptsItsSandboxes kills a containerd worker
// with -9 under load and starts it again on the same data directory: its
// sandboxes are adopted (the old containerd is replaced, the shims and
// sandboxes kept), none is duplicated or orphaned, and every answer comes
// from the function invoked.
func TestWorkerRestartedOnItsDataAdoptsItsSandboxes(t *testing.T) {
	const subnet = "10.165.0.0/16"
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	registry := []string{"--registry", shortDir(t, "br-")} // see TestReplacedWorkerServesOnlyItsOwnFunctions
	dir := shortDir(t, "bw-")
	w1 := faulttest.StartWorker(t, bin, ns.URL(), "w1", "containerd", dir, images, subnet, registry...)
	orc := faulttest.StartOrchestrator(t, bin, ns.URL(), t.TempDir(), faulttest.FreePort(t), "", "")
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)
	api := orc.Client()
	names := []string{"ga", "gb"}
	for _, n := range names {
		if _, err := api.Deploy(ctx, n+".yaml", namedYAML(n)); err != nil {
			t.Fatal(err)
		}
	}
	load := startNamedLoad(t, api, names, 4)
	defer load.end()
	time.Sleep(3 * time.Second)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	had := workerList(t, nc, "w1")

	w1.Kill(t)
	w1 = faulttest.StartWorker(t, bin, ns.URL(), "w1", "containerd", dir, images, subnet, registry...)
	defer w1.Terminate(t)
	adopted := w1.WaitLog(t, regexp.MustCompile(`worker ready.* adopted=(\d+)`), 30*time.Second)
	time.Sleep(3 * time.Second)
	load.end()
	deadline := time.Now().Add(30 * time.Second)
	for {
		known, have := sandboxesKnown(t, orc), workerList(t, nc, "w1")
		if known == have {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orchestrator knows %d sandboxes, the worker runs %d: orphans or duplicates", known, have)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d sandboxes before the kill, %s adopted; %d invocations right, %d wrong, %d failed", had, adopted, load.ok.Load(), load.wrong.Load(), load.failed.Load())
	if daemons, err := procsweep.Find(filepath.Join(dir, "containerd", "config.toml")); err != nil || len(daemons) != 1 {
		t.Errorf("containerd daemons on the worker's data directory: %v (%v), want the new one alone", daemons, err)
	}
	if adopted == "0" {
		t.Error("the restarted worker adopted no sandbox")
	}
	if load.wrong.Load() > 0 {
		t.Errorf("%d answers came from another function", load.wrong.Load())
	}
}

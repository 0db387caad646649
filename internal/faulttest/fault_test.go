package faulttest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/faulttest"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/worker/protocol"
)

func chainYAML(name, fn string, stages int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: baton.dev/v1\nkind: Workflow\nmetadata: {name: %s}\nspec:\n  functions:\n    f: {image: baton.local/%s:v1, resources: {cpu: 250m, memory: 64Mi}}\n  stages:\n", name, fn)
	for i := range stages {
		if i == 0 {
			fmt.Fprintf(&b, "    - {name: s%d, function: f}\n", i)
		} else {
			fmt.Fprintf(&b, "    - {name: s%d, function: f, needs: [s%d]}\n", i, i-1)
		}
	}
	return []byte(b.String())
}

func shortDir(t *testing.T, prefix string) string {
	return testenv.RunDir(t, prefix)
}

// sandboxesKnown sums the orchestrator's baton_sandboxes gauge.
func sandboxesKnown(t *testing.T, orc *faulttest.Orchestrator) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, orc.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+orc.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "baton_sandboxes{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			n += int(v)
		}
	}
	return n
}

// workerList asks a worker over NATS how many sandboxes it runs.
func workerList(t *testing.T, nc *nats.Conn, id string) int {
	t.Helper()
	msg, err := nc.Request(protocol.ListSubject(id), []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var reply protocol.ListReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.Error != nil {
		t.Fatalf("list reply %s: %v", msg.Data, err)
	}
	return len(reply.Sandboxes)
}

func containerCount(t *testing.T, c *containerd.Client) int {
	t.Helper()
	list, err := c.Containers(namespaces.WithNamespace(context.Background(), "baton"))
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestOrchestratorKilledLosesNothing kills the orchestrator with SIGKILL
// twice: with warm sandboxes (the restarted one adopts them: the same
// containers, and the next call is warm), and right after accepting
// asynchronous invocations (each completes, once).
func TestOrchestratorKilledLosesNothing(t *testing.T) {
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	wdir := shortDir(t, "bw-")
	w := faulttest.StartWorker(t, bin, ns.URL(), "w1", "containerd", wdir, images, "10.175.0.0/16")
	defer w.Terminate(t)
	odir, port := t.TempDir(), faulttest.FreePort(t)
	orc := faulttest.StartOrchestrator(t, bin, ns.URL(), odir, port, "", "")
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)

	ac := orc.Client()
	if _, err := ac.Deploy(ctx, "k.yaml", chainYAML("k", "testfn-ok", 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Invoke(ctx, "k", []byte(`{"warm":1}`)); err != nil {
		t.Fatal(err)
	}
	ctrd, err := containerd.New(filepath.Join(wdir, "containerd", "containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ctrd.Close()
	before := containerCount(t, ctrd)
	if before == 0 {
		t.Fatal("no containers after a warm-up invocation")
	}

	orc.Kill(t)
	orc = faulttest.StartOrchestrator(t, bin, ns.URL(), odir, port, orc.Token, orc.AdminToken)
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)
	ac = orc.Client()
	if list, err := ac.Workflows(ctx); err != nil || len(list) != 1 || list[0].Name != "k" {
		t.Fatalf("workflows after a restart = %+v, %v; want k", list, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for sandboxesKnown(t, orc) != before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	res, err := ac.Invoke(ctx, "k", []byte(`{"after":"restart"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.ColdStarts != 0 {
		t.Errorf("first invocation after the restart had %d cold starts; the warm sandboxes were not adopted (Server-Timing %s)", res.ColdStarts, res.ServerTiming)
	}
	if after := containerCount(t, ctrd); after != before {
		t.Errorf("containers: %d before the kill, %d after the restart; want the same", before, after)
	}

	// Accept asynchronous invocations and die at once.
	const n = 40
	ids := make([]string, n)
	for i := range n {
		id, err := ac.InvokeAsync(ctx, "k", []byte(fmt.Sprintf(`{"i":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	orc.Kill(t)
	orc = faulttest.StartOrchestrator(t, bin, ns.URL(), odir, port, orc.Token, orc.AdminToken)
	ac = orc.Client()
	deadline = time.Now().Add(90 * time.Second)
	for i, id := range ids {
		inv := waitSucceeded(ctx, t, ac, i, id, deadline)
		var got map[string]int
		if err := json.Unmarshal(inv.Output, &got); err != nil || got["i"] != i {
			t.Errorf("async invocation %d output %s, want {\"i\":%d}", i, inv.Output, i)
		}
	}
	// Sandboxes whose creation the killed orchestrator asked for and never
	// heard of are adopted at the next heartbeats that show them. The
	// worker's own list (complete sandboxes, not ones being made) is what
	// the orchestrator must know, no more, no less.
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline = time.Now().Add(30 * time.Second)
	for {
		known, have := sandboxesKnown(t, orc), workerList(t, nc, "w1")
		if known == have {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orchestrator knows %d sandboxes, containerd runs %d: orphans or duplicates", known, have)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestNATSRestartReconnectsEverything stops the NATS server and starts it
// again: the orchestrator and the worker reconnect, invocations work
// again, and no sandbox is orphaned or duplicated.
func TestNATSRestartReconnectsEverything(t *testing.T) {
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	w := faulttest.StartWorker(t, bin, ns.URL(), "w1", "process", shortDir(t, "bw-"), images, "10.174.0.0/16")
	defer w.Terminate(t)
	orc := faulttest.StartOrchestrator(t, bin, ns.URL(), t.TempDir(), faulttest.FreePort(t), "", "")
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)
	ac := orc.Client()
	if _, err := ac.Deploy(ctx, "n.yaml", chainYAML("n", "testfn-ok", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Invoke(ctx, "n", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	before := sandboxesKnown(t, orc)

	ns.Stop()
	time.Sleep(2 * time.Second)
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := ac.Invoke(ctx, "n", []byte(`{"back":true}`))
		if err == nil && string(res.Output) == `{"back":true}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invocations do not work after NATS came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	deadline = time.Now().Add(15 * time.Second)
	for sandboxesKnown(t, orc) != before && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if after := sandboxesKnown(t, orc); after != before {
		t.Errorf("sandboxes known: %d before the NATS restart, %d after", before, after)
	}
	if _, err := ac.InvokeAsync(ctx, "n", []byte(`{}`)); err != nil {
		t.Errorf("async invocations after the NATS restart: %v", err)
	}
}

// TestSlowAndMalformedWorkersDoNotStallTheOrchestrator adds a worker that
// never answers and a stream of malformed messages: warm invocations
// keep flowing, the API answers, malformed heartbeats are not workers,
// and a cold start placed on the mute worker goes elsewhere.
func TestSlowAndMalformedWorkersDoNotStallTheOrchestrator(t *testing.T) {
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	w := faulttest.StartWorker(t, bin, ns.URL(), "w1", "process", shortDir(t, "bw-"), images, "10.173.0.0/16")
	defer w.Terminate(t)
	p := faulttest.Start(t, "orchestrator", bin, nil, "orchestrator", "--nats", ns.URL(), "--listen",
		fmt.Sprintf("127.0.0.1:%d", faulttest.FreePort(t)), "--data", t.TempDir(), "--postgres", "off", "--sandbox-start-timeout", "2s")
	orc := &faulttest.Orchestrator{Process: p}
	orc.URL = p.WaitLog(t, faulttest.ServingLine, time.Minute)
	orc.Token = p.WaitLog(t, regexp.MustCompile(`^\s*BATON_TOKEN=(\S+)`), 10*time.Second)
	faulttest.WaitWorkers(ctx, t, orc.URL, 1, 30*time.Second)
	ac := orc.Client()
	if _, err := ac.Deploy(ctx, "warm.yaml", chainYAML("warm", "testfn-ok", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Invoke(ctx, "warm", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}

	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The mute worker: heartbeats with a large capacity (so placement
	// prefers it), takes create requests and never answers them.
	sub, err := nc.Subscribe(protocol.CreateSubject("mute"), func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			hb, _ := json.Marshal(protocol.Heartbeat{WorkerID: "mute", Runtime: "fake", CPUMilli: 1 << 20, MemoryBytes: 1 << 45,
				Images: []string{"baton.local/testfn-ok:v1"}, Sent: time.Now(), Interval: 250 * time.Millisecond})
			_ = nc.Publish(protocol.HeartbeatSubject("mute"), hb)
			_ = nc.Publish(protocol.HeartbeatSubject("mute"), []byte(`{"workerId": 42, garbage`))
			_ = nc.Publish(protocol.HeartbeatSubject("mute"), []byte(`{}`))
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	faulttest.WaitWorkers(ctx, t, orc.URL, 2, 10*time.Second) // w1 and mute; garbage is not a worker

	// Warm invocations keep flowing while a cold start hangs on the mute
	// worker.
	if _, err := ac.Deploy(ctx, "cold.yaml", chainYAML("cold", "testfn-ok", 1)); err != nil {
		t.Fatal(err)
	}
	coldDone := make(chan error, 1)
	go func() {
		_, err := ac.Invoke(ctx, "cold", []byte(`{"cold":1}`))
		coldDone <- err
	}()
	var warm atomic.Int64
	for {
		select {
		case err := <-coldDone:
			if err != nil {
				t.Errorf("the cold start placed on the mute worker did not go elsewhere: %v", err)
			}
			if warm.Load() < 20 {
				t.Errorf("only %d warm invocations completed while the cold start waited on the mute worker", warm.Load())
			}
			return
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := ac.Invoke(cctx, "warm", []byte(`{}`))
		cancel()
		if err != nil {
			t.Fatalf("a warm invocation failed while a worker was mute: %v", err)
		}
		warm.Add(1)
		time.Sleep(20 * time.Millisecond)
	}
}

// killWorkerAndSandboxes ends a process-runtime worker as a machine loss
// would: the worker with SIGKILL, then every sandbox process it started.
func killWorkerAndSandboxes(t *testing.T, w *faulttest.Process, dataDir string) {
	t.Helper()
	w.Kill(t)
	files, _ := filepath.Glob(filepath.Join(dataDir, "processes", "sandboxes", "*.json"))
	for _, f := range files {
		var rec struct {
			PID int `json:"pid"`
		}
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &rec) != nil || rec.PID <= 0 {
			continue
		}
		_ = syscall.Kill(-rec.PID, syscall.SIGKILL) // its process group
	}
}

// TestWorkerKilledUnderLoad kills one of two workers (and its sandboxes)
// while invocations of an idempotent function flow: none fails, the dead
// worker is declared dead, and when it comes back it takes work again.
func TestWorkerKilledUnderLoad(t *testing.T) {
	ctx := context.Background()
	images := testenv.Images(t)
	bin := faulttest.Binary(t, shortDir(t, "bb-"))
	ns := faulttest.StartNATS(t)
	d1, d2 := shortDir(t, "bw-"), shortDir(t, "bw-")
	w1 := faulttest.StartWorker(t, bin, ns.URL(), "w1", "process", d1, images, "10.172.0.0/16")
	w2 := faulttest.StartWorker(t, bin, ns.URL(), "w2", "process", d2, images, "10.171.0.0/16")
	defer w2.Terminate(t)
	orc := faulttest.StartOrchestrator(t, bin, ns.URL(), t.TempDir(), faulttest.FreePort(t), "", "")
	faulttest.WaitWorkers(ctx, t, orc.URL, 2, 30*time.Second)
	ac := orc.Client()
	doc := strings.Replace(string(chainYAML("steady", "testfn-ok", 3)), "memory: 64Mi}", "memory: 64Mi}, idempotent: true", 1)
	if _, err := ac.Deploy(ctx, "steady.yaml", []byte(doc)); err != nil {
		t.Fatal(err)
	}

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)
				res, err := ac.Invoke(ctx, "steady", []byte(in))
				if err != nil || string(res.Output) != in {
					failed.Add(1)
					t.Errorf("invocation %s: %v", in, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(2 * time.Second) // sandboxes on both workers
	admin := &client.Client{URL: orc.URL, Token: orc.AdminToken}
	killed := time.Now()
	killWorkerAndSandboxes(t, w1, d1)
	var detected time.Duration
	for detected == 0 {
		list, err := admin.Workers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range list {
			if w.ID == "w1" && w.State == "dead" {
				detected = time.Since(killed)
			}
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatal("the killed worker was not declared dead within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := ok.Load()
	time.Sleep(3 * time.Second)
	if ok.Load() == before {
		t.Error("no invocation completed after the worker was lost: capacity was not restored")
	}
	// The worker comes back and is used again.
	w1 = faulttest.StartWorker(t, bin, ns.URL(), "w1", "process", d1, images, "10.172.0.0/16")
	defer w1.Terminate(t)
	faulttest.WaitWorkers(ctx, t, orc.URL, 2, 30*time.Second)
	// New work goes to the returning worker, the least allocated.
	if _, err := ac.Deploy(ctx, "after.yaml", chainYAML("after", "testfn-ok", 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Invoke(ctx, "after", []byte(`{"after":1}`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		list, err := admin.Workers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(list, func(w api.WorkerView) bool { return w.ID == "w1" && w.Sandboxes > 0 }); i >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the returning worker took no sandbox: %+v", list)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d invocations, %d failed; the killed worker was declared dead after %s", ok.Load(), failed.Load(), detected.Round(time.Millisecond))
}

// waitSucceeded waits until asynchronous invocation i (id) succeeded and
// returns it; it fails the test if the invocation failed, or is not done
// by deadline.
func waitSucceeded(ctx context.Context, t *testing.T, c *client.Client, i int, id string, deadline time.Time) *api.Invocation {
	t.Helper()
	for {
		inv, err := c.Invocation(ctx, id)
		if err == nil && inv.Status == "succeeded" {
			return inv
		}
		if err == nil && inv.Status == "failed" {
			t.Fatalf("async invocation %d failed: %s", i, inv.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("async invocation %d (%s) not done in time: %+v, %v", i, id, inv, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package standalone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	containerd "github.com/containerd/containerd"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"

	"baton.dev/baton/dags"
	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
)

// keepAlive outlasts the slowest cold chain of a sample on a loaded 2-core
// machine (about 10 s), so a stage's sandbox is still there to be checked
// when its invocation ends.
const keepAlive = 20 * time.Second

// TestEndToEnd runs the whole of Baton in one process on a private
// containerd and an embedded NATS, and drives it through the HTTP API as a
// tenant would.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dataDir := shortTempDir(t)
	cl := startBaton(t, standalone.Config{
		DataDir: dataDir, Runtime: standalone.RuntimeContainerd, Subnet: "10.178.0.0/16",
		Orchestration: standalone.Orchestration{KeepAlive: keepAlive, HealthTimeout: 3 * time.Second, AutoscaleTick: 250 * time.Millisecond},
	}, slog.LevelInfo)
	t.Cleanup(func() {
		if err := cl.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	api := &client.Client{URL: cl.URL, Token: cl.Token}
	ctrd, err := containerd.New(cl.ContainerdAddress)
	if err != nil {
		t.Fatalf("connect to containerd: %v", err)
	}
	t.Cleanup(func() { ctrd.Close() })
	cctx := namespaces.WithNamespace(ctx, "baton")

	samples, err := dags.Samples()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("samples run cold then warm with their limits in the cgroups", func(t *testing.T) {
		for _, s := range samples {
			if _, err := api.Deploy(ctx, s.Name+".yaml", s.YAML); err != nil {
				t.Fatalf("deploy %s: %v", s.Name, err)
			}
			cold, err := api.Invoke(ctx, s.Name, s.Input)
			if err != nil {
				t.Fatalf("invoke %s: %v", s.Name, err)
			}
			assertJSONEqual(t, cold.Output, s.Output)
			if cold.ColdStarts == 0 {
				t.Errorf("first invocation of %s: Baton-Cold-Starts = 0, want > 0", s.Name)
			}
			inv, err := api.Invocation(ctx, cold.InvocationID)
			if err != nil {
				t.Fatal(err)
			}
			before := containerIDs(t, cctx, ctrd)
			for _, st := range inv.Stages {
				if !before[st.Sandbox] {
					t.Errorf("stage %s ran on sandbox %s, which containerd does not have", st.Stage, st.Sandbox)
				}
				checkCgroup(t, st.Sandbox)
			}

			warm, err := api.Invoke(ctx, s.Name, s.Input)
			if err != nil {
				t.Fatalf("second invoke %s: %v", s.Name, err)
			}
			assertJSONEqual(t, warm.Output, s.Output)
			if warm.ColdStarts != 0 {
				t.Errorf("second invocation of %s: Baton-Cold-Starts = %d, want 0 (Server-Timing %s)", s.Name, warm.ColdStarts, warm.ServerTiming)
			}
			if !strings.Contains(warm.ServerTiming, `desc="warm"`) || strings.Contains(warm.ServerTiming, `desc="cold"`) {
				t.Errorf("second invocation's Server-Timing does not say warm: %s", warm.ServerTiming)
			}
			// No container made for the warm call (an earlier sample's idle
			// ones may meanwhile pass the keep-alive and go).
			for id := range containerIDs(t, cctx, ctrd) {
				if !before[id] {
					t.Errorf("the warm invocation of %s created container %s", s.Name, id)
				}
			}
			t.Logf("%s: cold %s | warm %s", s.Name, cold.ServerTiming, warm.ServerTiming)
		}
	})

	t.Run("scale-down after keep-alive removes containers, tasks, snapshots and netns", func(t *testing.T) {
		deadline := time.Now().Add(keepAlive + 30*time.Second)
		for len(containerIDs(t, cctx, ctrd)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("containers still there %s after the keep-alive: %v", time.Since(deadline.Add(-keepAlive-30*time.Second)), containerIDs(t, cctx, ctrd))
			}
			time.Sleep(250 * time.Millisecond)
		}
		tasks, err := ctrd.TaskService().List(cctx, &tasksapi.ListTasksRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(tasks.Tasks); n != 0 {
			t.Errorf("%d tasks left after scale-down", n)
		}
		assertNoSandboxLeftovers(t, cctx, ctrd, dataDir)
	})

	bad := []struct {
		name       string
		yaml       string
		wantStatus int
		wantMsg    string
	}{
		{"malformed YAML", "apiVersion: baton.dev/v1\nkind: [Workflow\n", 400, "bad.yaml:"},
		{"unknown needs", wfYAML("bad-needs", "testfn-ok", "- {name: a, function: f}\n    - {name: b, function: f, needs: [zz]}"), 400, `unknown stage "zz"`},
		{"cycle", wfYAML("bad-cycle", "testfn-ok", "- {name: a, function: f, needs: [b]}\n    - {name: b, function: f, needs: [a]}"), 400, "cycle"},
		{"unknown function", wfYAML("bad-fn", "testfn-ok", "- {name: a, function: nope}"), 400, `unknown function "nope"`},
		{"missing image", wfYAML("bad-image", "no-such-image", "- {name: a, function: f}"), 422, `image "baton.local/no-such-image:v1" is not on any worker`},
	}
	for _, b := range bad {
		t.Run("deploy refuses "+b.name, func(t *testing.T) {
			_, err := api.Deploy(ctx, "bad.yaml", []byte(b.yaml))
			var ce *client.Error
			if !errors.As(err, &ce) {
				t.Fatalf("deploy: err = %v, want an API error", err)
			}
			if ce.Status != b.wantStatus || !strings.Contains(ce.Message, b.wantMsg) {
				t.Fatalf("deploy: %d %q, want %d containing %q", ce.Status, ce.Message, b.wantStatus, b.wantMsg)
			}
			list, err := api.Workflows(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range list {
				if strings.HasPrefix(w.Name, "bad-") {
					t.Fatalf("refused workflow %s is listed: half-deployed", w.Name)
				}
			}
		})
	}

	t.Run("invoking an unknown workflow is 404", func(t *testing.T) {
		_, err := api.Invoke(ctx, "no-such-workflow", []byte(`{}`))
		wantStatus(t, "invoke an unknown workflow", err, http.StatusNotFound, `workflow "no-such-workflow" not found`)
	})

	t.Run("a body over the limit is 413", func(t *testing.T) {
		_, err := api.Invoke(ctx, samples[0].Name, bytes.Repeat([]byte("x"), 7<<20))
		wantStatus(t, "invoke with a body over the limit", err, http.StatusRequestEntityTooLarge, "larger than the limit")
	})

	t.Run("a missing or wrong key is 401", func(t *testing.T) {
		for _, token := range []string{"", "bk_wrong"} {
			anon := &client.Client{URL: cl.URL, Token: token}
			_, err := anon.Workflows(ctx)
			wantStatus(t, "a request with a bad key", err, http.StatusUnauthorized, "API key")
		}
	})

	failing := []struct{ image, wantMsg string }{
		{"testfn-fail500", "function answered 500"},
		{"testfn-crash", "function did not answer"},
	}
	for _, f := range failing {
		t.Run(f.image+" fails the invocation naming the stage and is replaced", func(t *testing.T) {
			name := "e2e-" + f.image
			if _, err := api.Deploy(ctx, name+".yaml", []byte(wfYAML(name, f.image, "- {name: only, function: f}"))); err != nil {
				t.Fatal(err)
			}
			var sandboxes []string
			for range 2 {
				_, err := api.Invoke(ctx, name, []byte(`{"n":1}`))
				wantStatus(t, "a failing stage", err, http.StatusBadGateway, `stage "only"`)
				ce := wantStatus(t, "a failing stage", err, http.StatusBadGateway, f.wantMsg)
				if ce == nil {
					t.FailNow()
				}
				inv, err := api.Invocation(ctx, ce.InvocationID)
				if err != nil {
					t.Fatal(err)
				}
				if inv.Status != "failed" || inv.Stage != "only" {
					t.Fatalf("invocation record: status %s, failed stage %q", inv.Status, inv.Stage)
				}
				sandboxes = append(sandboxes, inv.Stages[0].Sandbox)
			}
			if sandboxes[0] == sandboxes[1] {
				t.Fatalf("the failed sandbox %s was reused", sandboxes[0])
			}
		})
	}

	t.Run("a function that never becomes healthy times out clearly", func(t *testing.T) {
		name := "e2e-unhealthy"
		if _, err := api.Deploy(ctx, name+".yaml", []byte(wfYAML(name, "testfn-unhealthy", "- {name: only, function: f}"))); err != nil {
			t.Fatal(err)
		}
		_, err := api.Invoke(ctx, name, []byte(`{}`))
		wantStatus(t, "a sandbox that never becomes healthy", err, http.StatusBadGateway, "did not become healthy")
	})

	t.Run("async invocation returns 202 and its result by id", func(t *testing.T) {
		name := "e2e-async"
		if _, err := api.Deploy(ctx, name+".yaml", []byte(wfYAML(name, "testfn-ok", "- {name: a, function: f}\n    - {name: b, function: f, needs: [a]}"))); err != nil {
			t.Fatal(err)
		}
		id, err := api.InvokeAsync(ctx, name, []byte(`{"hello":"async"}`))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			inv, err := api.Invocation(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if inv.Status == "succeeded" {
				assertJSONEqual(t, inv.Output, []byte(`{"hello":"async"}`))
				break
			}
			if inv.Status == "failed" || time.Now().After(deadline) {
				t.Fatalf("async invocation: status %s, error %q", inv.Status, inv.Error)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("delete removes the workflow", func(t *testing.T) {
		if err := api.DeleteWorkflow(ctx, "e2e-async"); err != nil {
			t.Fatal(err)
		}
		_, err := api.Invoke(ctx, "e2e-async", []byte(`{}`))
		wantStatus(t, "invoke a deleted workflow", err, http.StatusNotFound, "not found")
	})
}

// wfYAML is a one-function workflow on a test image.
func wfYAML(name, image, stages string) string {
	return workflowYAML(name, "baton.local/"+image+":v1", stages)
}

// workflowYAML is a workflow of one function f with the image ref.
func workflowYAML(name, ref, stages string) string {
	return fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata:
  name: %s
spec:
  functions:
    f:
      image: %s
      resources: {cpu: 250m, memory: 64Mi}
  stages:
    %s
`, name, ref, stages)
}

func containerIDs(t *testing.T, ctx context.Context, c *containerd.Client) map[string]bool {
	t.Helper()
	list, err := c.Containers(ctx)
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	ids := map[string]bool{}
	for _, ct := range list {
		ids[ct.ID()] = true
	}
	return ids
}

// checkCgroup reads the sandbox's limits from the cgroup files themselves.
func checkCgroup(t *testing.T, id string) {
	t.Helper()
	read := func(path string) int64 {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read cgroup file: %v", err)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}
	quota := read(filepath.Join("/sys/fs/cgroup/cpu/baton", id, "cpu.cfs_quota_us"))
	period := read(filepath.Join("/sys/fs/cgroup/cpu/baton", id, "cpu.cfs_period_us"))
	mem := read(filepath.Join("/sys/fs/cgroup/memory/baton", id, "memory.limit_in_bytes"))
	if quota <= 0 || period <= 0 || mem <= 0 {
		t.Fatalf("sandbox %s: cgroup quota %d period %d memory %d: limits not set", id, quota, period, mem)
	}
	t.Logf("sandbox %s: cgroup cpu %dm, memory %d bytes", id, quota*1000/period, mem)
}

// assertNoSandboxLeftovers checks what a deleted sandbox could leave: a
// mount under the data directory (rootfs, network namespace), an active
// snapshot, or an IP reservation in the CNI IPAM store.
func assertNoSandboxLeftovers(t *testing.T, ctx context.Context, c *containerd.Client, dataDir string) {
	t.Helper()
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, dataDir) {
			t.Errorf("mount left under the data directory: %s", line)
		}
	}
	var active []string
	err = c.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind == snapshots.KindActive {
			active = append(active, info.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) > 0 {
		t.Errorf("active snapshots left: %v", active)
	}
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // containerd's garbage collector removed it during the walk
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && net.ParseIP(d.Name()) != nil {
			t.Errorf("IP reservation left: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func assertJSONEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON (%v): %.400s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("expected output is not JSON (%v): %.400s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("output differs:\n got: %.400s\nwant: %.400s", got, want)
	}
}

// startBaton starts Baton in-process with cfg, listening on a free port
// of 127.0.0.1 and logging at level through tb; a cfg without a data or
// images directory gets a fresh temporary one and the test images. The
// caller stops it.
func startBaton(tb testing.TB, cfg standalone.Config, level slog.Level) *standalone.Cluster {
	tb.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = shortTempDir(tb)
	}
	if cfg.ImagesDir == "" {
		cfg.ImagesDir = testenv.Images(tb)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: level}))
	cl, err := standalone.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	return cl
}

// shortTempDir keeps unix socket paths under the 108-byte limit, and is
// swept by the next run if this one is killed (testenv.RunDir).
func shortTempDir(t testing.TB) string { return testenv.RunDir(t, "baton-e2e-") }

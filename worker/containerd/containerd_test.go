package containerd_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/sandboxtest"
)

// Each test gets its own daemon and state; they share the bridge, so each
// gets its own subnet.
const (
	conformanceSubnet = "10.179.1.0/24"
	limitsSubnet      = "10.179.2.0/24"
	cleanupSubnet     = "10.179.3.0/24"
	restartSubnet     = "10.179.4.0/24"
	failedSubnet      = "10.179.15.0/24"
)

// openRuntime opens a runtime on a fresh private daemon with the test
// images; the test's cleanup deletes every sandbox left and closes it.
func openRuntime(t *testing.T, subnet string) (*containerd.Runtime, containerd.Config) {
	t.Helper()
	cfg := testConfig(t, subnet)
	return openWith(t, cfg), cfg
}

// testConfig is a runtime's configuration on a fresh private daemon, with
// the test images, a state directory of its own and subnet.
func testConfig(t *testing.T, subnet string) containerd.Config {
	return containerd.Config{
		Address:   testenv.Containerd(t),
		ImagesDir: testenv.Images(t),
		StateDir:  testenv.RunDir(t, "baton-rt-"),
		Subnet:    subnet,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

func openWith(t *testing.T, cfg containerd.Config) *containerd.Runtime {
	t.Helper()
	rt, err := containerd.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open runtime: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Sweep(context.Background()); err != nil {
			t.Errorf("sweep: %v", err)
		}
		if err := rt.RemoveNetwork(context.Background()); err != nil {
			t.Errorf("remove the network: %v", err)
		}
		if err := rt.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return rt
}

func TestConformance(t *testing.T) {
	t.Parallel()
	sandboxtest.Run(t, func(t *testing.T) worker.Runtime {
		rt, _ := openRuntime(t, conformanceSubnet)
		return rt
	})
}

func TestLimitsReachTheCgroups(t *testing.T) {
	t.Parallel()
	rt, _ := openRuntime(t, limitsSubnet)
	tests := []struct {
		cpuMilli, memory int64
		wantQuota        string
	}{
		{250, 64 << 20, "25000"},
		{1500, 256 << 20, "150000"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dm %dMi", tc.cpuMilli, tc.memory>>20), func(t *testing.T) {
			sb := sandboxtest.Create(t, rt, worker.SandboxSpec{
				ID: sandboxtest.NewID("limits"), Function: "t/w/limits", Image: sandboxtest.ImageOK,
				CPUMilli: tc.cpuMilli, MemoryBytes: tc.memory,
			})
			got := map[string]string{
				"cpu/baton/" + sb.ID + "/cpu.cfs_quota_us":         "",
				"cpu/baton/" + sb.ID + "/cpu.cfs_period_us":        "",
				"memory/baton/" + sb.ID + "/memory.limit_in_bytes": "",
			}
			for f := range got {
				b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", f))
				if err != nil {
					t.Fatalf("read cgroup file: %v", err)
				}
				got[f] = strings.TrimSpace(string(b))
			}
			want := map[string]string{
				"cpu/baton/" + sb.ID + "/cpu.cfs_quota_us":         tc.wantQuota,
				"cpu/baton/" + sb.ID + "/cpu.cfs_period_us":        "100000",
				"memory/baton/" + sb.ID + "/memory.limit_in_bytes": strconv.FormatInt(tc.memory, 10),
			}
			for f, w := range want {
				if got[f] != w {
					t.Errorf("/sys/fs/cgroup/%s = %q, want %q", f, got[f], w)
				}
			}
		})
	}
}

func TestDeleteLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	rt, cfg := openRuntime(t, cleanupSubnet)
	ctx := context.Background()
	id := sandboxtest.NewID("gone")
	sb := sandboxtest.Create(t, rt, worker.SandboxSpec{ID: id, Function: "t/w/gone", Image: sandboxtest.ImageOK, CPUMilli: 250, MemoryBytes: 64 << 20})
	u, err := url.Parse(sb.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ip := u.Hostname()
	reservation := filepath.Join(cfg.StateDir, "ipam", "baton", ip)
	netnsFile := filepath.Join(cfg.StateDir, "netns", id)
	for _, p := range []string{reservation, netnsFile} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("while the sandbox runs: %v (the test looks in the wrong place)", err)
		}
	}
	if len(shims(t, id)) == 0 {
		t.Fatalf("no shim process for %s while it runs (the test looks in the wrong place)", id)
	}

	if err := rt.Delete(ctx, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	nothingLeft(t, cfg, id)
	if _, err := os.Stat(reservation); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("address %s still reserved (%v)", ip, err)
	}
	if err := sandboxtest.Health(ctx, sb.Endpoint); err == nil {
		t.Errorf("%s still answers after Delete", sb.Endpoint)
	}
}

// TestFailedStartsLeaveNothingBehind starts functions that cannot serve:
// one whose process exits at once, one that never answers its health
// check. Each creation fails saying which, and leaves no container, task,
// snapshot, network namespace, address, mount or shim.
func TestFailedStartsLeaveNothingBehind(t *testing.T) {
	t.Parallel()
	rt, cfg := openRuntime(t, failedSubnet)
	tests := []struct {
		name  string
		image string
		env   map[string]string
		want  string
	}{
		// The test function exits with status 1 on a mode it does not know.
		{"exits at once", sandboxtest.ImageOK, map[string]string{"BATON_TESTFN_MODE": "no-such-mode"}, "exited with status 1"},
		{"never healthy", sandboxtest.ImageUnhealthy, nil, "3s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := sandboxtest.NewID("failed")
			_, err := rt.Create(context.Background(), worker.SandboxSpec{ID: id, Function: "t/w/failed", Image: tc.image,
				Env: tc.env, CPUMilli: 250, MemoryBytes: 64 << 20, HealthTimeout: 3 * time.Second})
			if !errors.Is(err, worker.ErrUnhealthy) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create = %v, want ErrUnhealthy saying %q", err, tc.want)
			}
			nothingLeft(t, cfg, id)
		})
	}
	if ips, _ := filepath.Glob(filepath.Join(cfg.StateDir, "ipam", "baton", "10.*")); len(ips) > 0 {
		t.Errorf("addresses still reserved after failed creations: %v", ips)
	}
}

// nothingLeft checks that sandbox id has no container, task, snapshot,
// network namespace, mount or shim left.
func nothingLeft(t *testing.T, cfg containerd.Config, id string) {
	t.Helper()
	ctx := context.Background()
	client, err := ctrd.New(cfg.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nctx := namespaces.WithNamespace(ctx, containerd.DefaultNamespace)
	if _, err := client.LoadContainer(nctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("container %s: LoadContainer = %v, want not found", id, err)
	}
	tasks, err := client.TaskService().List(nctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks.Tasks {
		if task.ID == id {
			t.Errorf("task %s still exists", id)
		}
	}
	if _, err := client.SnapshotService(containerd.DefaultSnapshotter).Stat(nctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("snapshot %s: Stat = %v, want not found", id, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "netns", id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("network namespace of %s still exists (%v)", id, err)
	}
	for _, m := range mounts(t) {
		if strings.Contains(m, cfg.StateDir) || strings.Contains(m, id) {
			t.Errorf("mount left: %s", m)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(shims(t, id)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if pids := shims(t, id); len(pids) > 0 {
		t.Errorf("shim processes for %s still running: %v", id, pids)
	}
}

func TestSandboxesSurviveAWorkerRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t, restartSubnet)
	first, err := containerd.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	spec := worker.SandboxSpec{ID: sandboxtest.NewID("restart"), Function: "t/w/restart", Image: sandboxtest.ImageOK, CPUMilli: 500, MemoryBytes: 128 << 20}
	sb, err := first.Create(ctx, spec)
	closeErr := first.Close()
	// The second runtime's cleanup sweeps the sandbox even if a check fails.
	second := openWith(t, cfg)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if closeErr != nil {
		t.Fatalf("close: %v", closeErr)
	}
	got, ok := sandboxtest.Listed(t, second, spec.ID)
	if !ok {
		t.Fatalf("List after a restart lacks %s", spec.ID)
	}
	if got.Endpoint != sb.Endpoint || got.Function != spec.Function || got.Image != spec.Image ||
		got.CPUMilli != spec.CPUMilli || got.MemoryBytes != spec.MemoryBytes {
		t.Errorf("List after a restart = %+v, want the sandbox as created: %+v", got, sb)
	}
	if status, body, err := sandboxtest.Post(ctx, got.Endpoint, "after restart"); err != nil || status != 200 || body != "after restart" {
		t.Errorf("POST after a restart = %d %q, %v", status, body, err)
	}
	if err := second.Delete(ctx, spec.ID); err != nil {
		t.Errorf("Delete after a restart: %v", err)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  containerd.Config
		want string
	}{
		{"no address", containerd.Config{StateDir: t.TempDir()}, "Address"},
		{"no state dir", containerd.Config{Address: "/nonexistent.sock"}, "StateDir"},
		{"bad subnet", containerd.Config{Address: "/nonexistent.sock", StateDir: t.TempDir(), Subnet: "10.1.2.3"}, "subnet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := containerd.Open(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open = %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// shims returns the PIDs of containerd-shim processes serving sandbox id.
func shims(t *testing.T, id string) []int {
	return hostProcesses(t, func(pid string) bool {
		cmdline, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		if err != nil {
			return false
		}
		args := strings.Split(string(cmdline), "\x00")
		if !strings.Contains(args[0], "containerd-shim") {
			return false
		}
		for i, a := range args {
			if a == "-id" && i+1 < len(args) && args[i+1] == id {
				return true
			}
		}
		return false
	})
}

// hostProcesses returns the PIDs of the host's processes that match
// (given the process's directory name under /proc).
func hostProcesses(t *testing.T, match func(pid string) bool) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && match(e.Name()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mounts returns the lines of /proc/self/mountinfo.
func mounts(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

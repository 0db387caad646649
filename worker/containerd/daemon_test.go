package containerd_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd"
	"golang.org/x/sys/unix"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/machine"
	"baton.dev/baton/worker/sandboxtest"
)

const daemonSubnet = "10.179.5.0/24"

// TestDaemonWithALongDirectoryKillsLeftoversOnStop starts a daemon in a
// directory too long for a unix socket, runs a sandbox on it and stops the
// daemon without deleting the sandbox: no shim may survive.
func TestDaemonWithALongDirectoryKillsLeftoversOnStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(testenv.RunDir(t, "baton-ctrd-"), strings.Repeat("d", 60), strings.Repeat("e", 60))
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := containerd.StartDaemon(ctx, dir, logger)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = d.Stop(context.Background())
		}
	})
	if len(d.Address()) >= 100 || !strings.HasPrefix(d.Address(), "/run/baton-") {
		t.Errorf("Address() = %q (%d bytes), want a short path under /run/baton-", d.Address(), len(d.Address()))
	}
	client, err := ctrd.New(d.Address())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	serving, err := client.IsServing(ctx)
	client.Close()
	if err != nil || !serving {
		t.Fatalf("IsServing = %v, %v", serving, err)
	}

	stateDir := testenv.RunDir(t, "baton-rt-")
	rt, err := containerd.Open(ctx, containerd.Config{Address: d.Address(), ImagesDir: testenv.Images(t), StateDir: stateDir, Subnet: daemonSubnet, Logger: logger})
	if err != nil {
		t.Fatalf("open runtime: %v", err)
	}
	id := sandboxtest.NewID("left")
	if _, err := rt.Create(ctx, worker.SandboxSpec{ID: id, Function: "t/w/left", Image: sandboxtest.ImageOK, CPUMilli: 250, MemoryBytes: 64 << 20}); err != nil {
		t.Fatalf("create: %v", err)
	}
	// The namespace file outlives the daemon; unmount it so the temporary
	// directory can go.
	t.Cleanup(func() { _ = unix.Unmount(filepath.Join(stateDir, "netns", id), unix.MNT_DETACH) })
	t.Cleanup(func() { _, _ = machine.RemoveBridge(containerd.BridgeFor(daemonSubnet)) })
	rt.Close()
	if len(shims(t, id)) == 0 {
		t.Fatalf("no shim for %s while it runs (the test looks in the wrong place)", id)
	}

	stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.Stop(stopCtx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	for deadline := time.Now().Add(5 * time.Second); len(shims(t, id)) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if pids := shims(t, id); len(pids) > 0 {
		t.Errorf("shims for %s survive Stop: %v", id, pids)
	}
	if _, err := os.Stat(filepath.Dir(d.Address())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory %s left after Stop (%v)", filepath.Dir(d.Address()), err)
	}
}

// Package testenv starts the real components tests need.
package testenv

import (
	"context"
	"log/slog"
	"os/exec"
	"testing"
	"time"

	"baton.dev/baton/worker/containerd"
)

// Containerd starts a private containerd daemon in a temporary directory
// and returns its socket address; the daemon is stopped when the test ends
// (its leftover tasks killed first, so no shim outlives it). The test fails
// if the containerd binary is missing: make test installs it.
func Containerd(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatalf("containerd is not installed (make test installs it; or apt-get install containerd): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := containerd.StartDaemon(ctx, RunDir(t, "baton-ctrd-"), logger)
	if err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Stop(ctx); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
	})
	return d.Address()
}

// testLog writes log lines into the test's log.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

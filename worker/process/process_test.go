package process_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/process"
	"baton.dev/baton/worker/sandboxtest"
)

func openWith(t *testing.T, cfg process.Config) *process.Runtime {
	t.Helper()
	rt, err := process.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open runtime: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Sweep(context.Background()); err != nil {
			t.Errorf("sweep: %v", err)
		}
		if err := rt.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return rt
}

func config(t *testing.T) process.Config {
	return process.Config{
		ImagesDir: testenv.Images(t),
		StateDir:  testenv.RunDir(t, "baton-proc-"),
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	sandboxtest.Run(t, func(t *testing.T) worker.Runtime { return openWith(t, config(t)) })
}

func TestSandboxesSurviveAWorkerRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := config(t)
	first, err := process.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	spec := worker.SandboxSpec{ID: sandboxtest.NewID("restart"), Function: "t/w/restart", Image: sandboxtest.ImageOK, CPUMilli: 500, MemoryBytes: 128 << 20}
	sb, err := first.Create(ctx, spec)
	closeErr := first.Close()
	second := openWith(t, cfg) // its cleanup sweeps the sandbox even if a check fails
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
	if got.Endpoint != sb.Endpoint || got.Function != spec.Function || got.CPUMilli != spec.CPUMilli || got.MemoryBytes != spec.MemoryBytes {
		t.Errorf("List after a restart = %+v, want %+v", got, sb)
	}
	if status, body, err := sandboxtest.Post(ctx, got.Endpoint, "again"); err != nil || status != 200 || body != "again" {
		t.Errorf("POST after a restart = %d %q, %v", status, body, err)
	}
	if err := second.Delete(ctx, spec.ID); err != nil {
		t.Fatalf("Delete after a restart: %v", err)
	}
	if err := sandboxtest.Health(ctx, got.Endpoint); err == nil {
		t.Errorf("%s still answers after Delete", got.Endpoint)
	}
}

func TestImagesAreExtractedOncePerDigest(t *testing.T) {
	cfg := config(t)
	openWith(t, cfg)
	dirs, err := os.ReadDir(filepath.Join(cfg.StateDir, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	archives, err := filepath.Glob(filepath.Join(cfg.ImagesDir, "*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	// Every archive holds one image with its own config, so one tree each.
	if len(dirs) != len(archives) {
		t.Errorf("%d extracted trees for %d archives", len(dirs), len(archives))
	}
	for _, d := range dirs {
		if strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary extraction left: %s", d.Name())
		}
		if _, err := os.Stat(filepath.Join(cfg.StateDir, "rootfs", d.Name(), "fn")); err != nil {
			t.Errorf("tree %s lacks /fn: %v", d.Name(), err)
		}
	}
	// A second Open on the same state reuses the trees.
	before := len(dirs)
	openWith(t, cfg)
	after, err := os.ReadDir(filepath.Join(cfg.StateDir, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != before {
		t.Errorf("second Open: %d trees, want %d", len(after), before)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  process.Config
		want string
	}{
		{"no state dir", process.Config{}, "StateDir"},
		{"images dir with a broken archive", process.Config{StateDir: t.TempDir(), ImagesDir: brokenImages(t)}, "broken.tar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := process.Open(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func brokenImages(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.tar"), []byte("not a tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

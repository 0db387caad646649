package containerd_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/sandboxtest"
)

const oomSubnet = "10.179.16.0/24"

// TestOOMIsReported checks that the runtime says a sandbox's function was
// killed for reaching its memory limit (worker.ExitReporter) as soon as
// its caller's connection breaks, and only then: not for a function that
// crashed, nor for one that answered; and that the sandbox is deleted as
// a crashed one is.
func TestOOMIsReported(t *testing.T) {
	t.Parallel()
	rt, _ := openRuntime(t, oomSubnet)
	oomMode := map[string]string{"BATON_TESTFN_MODE": "oom"}
	tests := []struct {
		name    string
		image   string
		env     map[string]string
		body    string
		answers bool // the call gets an answer
		wantOOM bool
	}{
		{"out of memory", sandboxtest.ImageOK, oomMode, `{"oom":true}`, false, true},
		{"crashed", sandboxtest.ImageCrash, nil, `{}`, false, false},
		{"answered", sandboxtest.ImageOK, oomMode, `{"oom":false}`, true, false},
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sb := sandboxtest.Create(t, rt, worker.SandboxSpec{
				ID: sandboxtest.NewID("oom"), Function: "t/w/oom", Image: tc.image,
				CPUMilli: 500, MemoryBytes: 64 << 20, Env: tc.env,
			})
			if r, err := rt.Exit(ctx, sb.ID); err != nil || r.OutOfMemory {
				t.Fatalf("Exit before any call = %+v, %v; want no OOM", r, err)
			}
			resp, err := hc.Post(sb.Endpoint+"/", "application/json", strings.NewReader(tc.body))
			if err == nil {
				resp.Body.Close()
			}
			if answered := err == nil; answered != tc.answers {
				t.Fatalf("POST %s: answered = %v (%v), want %v", tc.body, answered, err, tc.answers)
			}
			r, err := rt.Exit(ctx, sb.ID)
			if err != nil {
				t.Fatalf("Exit: %v", err)
			}
			if r.OutOfMemory != tc.wantOOM {
				t.Errorf("Exit = %+v, want OutOfMemory %v", r, tc.wantOOM)
			}
			if err := rt.Delete(ctx, sb.ID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := rt.Exit(ctx, sb.ID); !errors.Is(err, worker.ErrNotFound) {
				t.Errorf("Exit after Delete: %v, want ErrNotFound", err)
			}
		})
	}
	t.Run("unknown sandbox", func(t *testing.T) {
		if _, err := rt.Exit(context.Background(), sandboxtest.NewID("none")); !errors.Is(err, worker.ErrNotFound) {
			t.Errorf("Exit of an unknown sandbox: %v, want ErrNotFound", err)
		}
	})
}

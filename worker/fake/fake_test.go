package fake_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/fake"
	"baton.dev/baton/worker/sandboxtest"
)

func open(t *testing.T, cfg fake.Config) *fake.Runtime {
	t.Helper()
	rt, err := fake.Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return rt
}

func TestConformance(t *testing.T) {
	t.Parallel()
	sandboxtest.Run(t, func(t *testing.T) worker.Runtime { return open(t, fake.Config{}) })
}

func TestOpenRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  fake.Config
		want string
	}{
		{"negative latency", fake.Config{CreateLatency: -time.Millisecond}, "CreateLatency"},
		{"unknown mode", fake.Config{Images: map[string]fake.Mode{"x:v1": "sometimes"}}, `"sometimes"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := fake.Open(tc.cfg)
			if err == nil {
				rt.Close()
				t.Fatalf("Open(%+v) succeeded, want an error", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should mention %s", err, tc.want)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     fake.Config
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
		minCold time.Duration
	}{
		{"latency is spent", fake.Config{CreateLatency: 20 * time.Millisecond}, nil, nil, 20 * time.Millisecond},
		{"custom image echoes", fake.Config{Images: map[string]fake.Mode{sandboxtest.ImageOK: fake.ModeEcho, "baton.local/fn-x:v1": fake.ModeEcho}}, nil, nil, 0},
		{"cancelled during latency", fake.Config{CreateLatency: time.Hour},
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 10*time.Millisecond)
			},
			context.DeadlineExceeded, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := open(t, tc.cfg)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			spec := worker.SandboxSpec{ID: sandboxtest.NewID("c"), Function: "t/w/f", Image: sandboxtest.ImageOK, CPUMilli: 100, MemoryBytes: 1 << 20}
			sb, err := rt.Create(ctx, spec)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Create = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if _, ok := sandboxtest.Listed(t, rt, spec.ID); ok {
					t.Errorf("List has %s after a failed Create", spec.ID)
				}
				return
			}
			if sb.ColdStart.Total < tc.minCold {
				t.Errorf("cold start %v, want at least %v", sb.ColdStart.Total, tc.minCold)
			}
			if status, body, err := sandboxtest.Post(context.Background(), sb.Endpoint, "hi"); err != nil || status != 200 || body != "hi" {
				t.Errorf("POST = %d %q, %v; want the echo", status, body, err)
			}
		})
	}
}

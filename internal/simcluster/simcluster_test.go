package simcluster_test

import (
	"context"
	"testing"
	"time"

	"baton.dev/baton/internal/simcluster"
)

func TestStartRejectsNoWorkers(t *testing.T) {
	t.Parallel()
	if c, err := simcluster.Start(context.Background(), simcluster.Config{}); err == nil {
		c.Stop()
		t.Fatal("Start with 0 workers succeeded, want an error")
	}
}

// TestRunControlPlane runs every phase on a tiny cluster and checks the
// counts; timings are the benchmark's business, not the test's.
func TestRunControlPlane(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		workers int
		opts    simcluster.ControlPlaneOptions
	}{
		{"one worker", 1, simcluster.ControlPlaneOptions{Functions: 20, Serial: 5, PlacementOps: 10, Rate: 2000}},
		{"several workers", 8, simcluster.ControlPlaneOptions{Functions: 100, Serial: 10, PlacementOps: 100, Rate: 5000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := simcluster.Start(ctx, simcluster.Config{Workers: tc.workers, HeartbeatInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			t.Cleanup(func() {
				if err := c.Stop(); err != nil {
					t.Errorf("stop: %v", err)
				}
			})
			rep, err := simcluster.RunControlPlane(ctx, c, tc.opts)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			want := map[string]int{"burst": tc.opts.Functions, "paced": tc.opts.Functions, "serial": tc.opts.Serial, "placement-only": tc.opts.PlacementOps}
			if len(rep.Phases) != len(want) {
				t.Fatalf("phases %+v, want %d", rep.Phases, len(want))
			}
			for _, ph := range rep.Phases {
				if ph.Creations != want[ph.Name] || ph.Failed != 0 || ph.Latency.N != want[ph.Name] {
					t.Errorf("phase %s: %d creations (%d failed, %d latencies), want %d and none failed", ph.Name, ph.Creations, ph.Failed, ph.Latency.N, want[ph.Name])
				}
			}
			if rep.Workers != tc.workers || len(rep.Reference) != 2 {
				t.Errorf("report %+v: want %d workers and the two reference systems", rep, tc.workers)
			}
		})
	}
}

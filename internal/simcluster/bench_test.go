package simcluster_test

import (
	"context"
	"testing"
	"time"

	"baton.dev/baton/internal/simcluster"
)

// BenchmarkCreate makes sandboxes through the whole control-plane path on
// a simulated cluster of 1000 workers, b.N at a time in one plan; for
// profiles:
//
//	go test -run '^$' -bench Create -benchtime 20000x -cpuprofile cpu.out ./internal/simcluster/
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	c, err := simcluster.Start(ctx, simcluster.Config{Workers: 1000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Stop() })
	b.ResetTimer()
	rep, err := simcluster.RunControlPlane(ctx, c, simcluster.ControlPlaneOptions{Functions: b.N, Serial: 1, PlacementOps: 1, PhaseTimeout: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.Phases[0].PerSecond, "creations/s")
	b.ReportMetric(rep.Phases[1].Latency.P99Ms, "paced-p99-ms")
}

package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"baton.dev/baton/internal/simcluster"
)

// workersChildEnv, set in a test binary's environment, makes it the
// child that runs the simulated workers (ServeControlPlaneWorkers)
// instead of running tests: the test binary stands in for `baton bench
// controlplane-workers`.
const workersChildEnv = "BATON_TEST_CONTROLPLANE_WORKERS"

func TestMain(m *testing.M) {
	if os.Getenv(workersChildEnv) != "" {
		if err := ServeControlPlaneWorkers(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunControlPlaneWorkersProcess runs the bench on a small cluster
// with the simulated workers in this process and in a process of their
// own, and checks that both measured the same creations, none failed,
// no worker was lost, and that the figures only the child can give (the
// workers' process's usage) and the orchestrator's memory and heartbeat
// figures are there. Timings are the bench's business, not the test's.
func TestRunControlPlaneWorkersProcess(t *testing.T) {
	t.Setenv(workersChildEnv, "1") // inherited by the child, not read again here
	tests := []struct {
		name string
		args []string
	}{
		{"workers in this process", nil},
		{"workers in their own process", []string{"-test.run=^$"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			opts := ControlPlaneOptions{
				Cluster:     simcluster.Config{Workers: 8, HeartbeatInterval: 50 * time.Millisecond},
				Phases:      simcluster.ControlPlaneOptions{Functions: 200, Serial: 10, PlacementOps: 100, Rate: 5000, HeartbeatWindow: 300 * time.Millisecond},
				WorkersArgs: tt.args,
			}
			rep, err := RunControlPlane(ctx, opts)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			want := map[string]int{"burst": 200, "paced": 200, "serial": 10, "placement-only": 100}
			if len(rep.Phases) != len(want) {
				t.Fatalf("phases %+v, want %d", rep.Phases, len(want))
			}
			for _, ph := range rep.Phases {
				if ph.Creations != want[ph.Name] || ph.Failed != 0 || ph.Latency.N != want[ph.Name] {
					t.Errorf("phase %s: %d creations (%d failed, %d latencies), want %d and none failed", ph.Name, ph.Creations, ph.Failed, ph.Latency.N, want[ph.Name])
				}
			}
			if rep.Workers != 8 || rep.WorkersLost != 0 || rep.WorkersInProcess != (tt.args == nil) {
				t.Errorf("report: %d workers, %d lost, workers in process %v; want 8, none lost, %v", rep.Workers, rep.WorkersLost, rep.WorkersInProcess, tt.args == nil)
			}
			if (rep.Fleet != nil) != (tt.args != nil) || (rep.Fleet != nil && rep.Fleet.CPUSeconds <= 0) {
				t.Errorf("workers' process usage %+v: want one, with CPU, exactly when they ran in a process of their own", rep.Fleet)
			}
			if b, ok := rep.Bound(); ok != (tt.args != nil) || (rep.BurstBound != nil) != ok || (ok && (b.OrchestratorCores <= 0 || b.MachinePerSecond > b.OrchestratorPerSecond)) {
				t.Errorf("burst bound %+v (%v), in the report %+v: want one exactly when the workers ran apart, the machine's rate within the orchestrator's alone", b, ok, rep.BurstBound)
			}
			m := rep.Memory
			if m.Empty.RSSBytes <= 0 || m.Functions.HeapBytes <= m.Workers.HeapBytes || m.End.PeakRSSBytes < m.End.RSSBytes {
				t.Errorf("orchestrator memory %+v: want it read, and the heap grown by the functions", m)
			}
			if hb := rep.Heartbeats; hb.Heartbeats == 0 || hb.CPUMicrosEach <= 0 {
				t.Errorf("heartbeats %+v: want the idle window's heartbeats counted and their CPU", hb)
			}
		})
	}
}

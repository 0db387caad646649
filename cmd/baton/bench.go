package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
)

// benchCmd groups the benchmarks of issue 4. Each prints its figures side
// by side with its baseline, measured in the same run.
func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Baton against its baselines: control plane, data plane, cold starts, pre-warming",
	}
	cmd.AddCommand(benchControlPlaneCmd(), benchDataPlaneCmd(), benchColdStartCmd(), benchPrewarmCmd())
	return cmd
}

// startCPUProfile writes a CPU profile to path until the returned function
// is called; an empty path does nothing.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("flag --cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("flag --cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// loadAverage returns the machine's 1, 5 and 15-minute load averages
// (/proc/loadavg), to print beside figures that other work on the machine
// disturbs; "" where it cannot be read.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// machineLoad is the load around a benchmark run.
type machineLoad struct {
	Before string `json:"loadAverageBefore"`
	After  string `json:"loadAverageAfter"`
}

func (m machineLoad) String() string {
	return fmt.Sprintf("machine load average (1m 5m 15m): before %s, after %s", m.Before, m.After)
}

// verdict renders a target check.
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

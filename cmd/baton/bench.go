package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/stalls"
)

// benchCmd groups Baton's benchmarks. Each prints its figures side by side
// with its baseline, measured in the same run, since absolute times drift
// on a shared machine.
func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Baton against its baselines: control plane, data plane, cold starts, pre-warming",
	}
	cmd.AddCommand(benchControlPlaneCmd(), benchDataPlaneCmd(), benchColdStartCmd(), benchPrewarmCmd(), benchDataPlaneClientCmd())
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

// machineLoad is the load around a benchmark run, and the CPU stalls a
// spinning thread saw just before and just after it: what this machine
// adds to any tail latency, whatever runs on it.
type machineLoad struct {
	Before       string         `json:"loadAverageBefore"`
	After        string         `json:"loadAverageAfter"`
	StallsBefore *stalls.Report `json:"stallsBefore,omitempty"`
	StallsAfter  *stalls.Report `json:"stallsAfter,omitempty"`
}

// stallProbe is how long each of machineLoad's probes spins: long enough
// to see the host's rarer millisecond stalls, short against a run.
const stallProbe = time.Second

// before records the load and probes for stalls; probe says whether to.
func (m *machineLoad) before(ctx context.Context, probe bool) {
	m.Before = loadAverage()
	if probe {
		r := stalls.Probe(ctx, stallProbe)
		m.StallsBefore = &r
	}
}

// after is before's counterpart, at the end of the run.
func (m *machineLoad) after(ctx context.Context, probe bool) {
	m.After = loadAverage()
	if probe {
		r := stalls.Probe(ctx, stallProbe)
		m.StallsAfter = &r
	}
}

func (m machineLoad) String() string {
	s := fmt.Sprintf("machine load average (1m 5m 15m): before %s, after %s", m.Before, m.After)
	if m.StallsBefore != nil {
		s += "\nCPU stalls seen by one spinning thread, before: " + m.StallsBefore.String()
	}
	if m.StallsAfter != nil {
		s += "\nCPU stalls seen by one spinning thread, after:  " + m.StallsAfter.String()
	}
	return s
}

// stallsFlag adds --stalls, which turns machineLoad's probes on or off.
func stallsFlag(cmd *cobra.Command, probe *bool) {
	cmd.Flags().BoolVar(probe, "stalls", true, fmt.Sprintf("spin one thread for %v before and after the run and report how often, and how long, this machine took the CPU from it", stallProbe))
}

// verdict renders a target check.
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

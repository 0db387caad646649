package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"baton.dev/baton/internal/stalls"
)

// StallProbe is how long each of MachineLoad's stall probes spins: long
// enough to see the host's rarer millisecond stalls, short against a run.
const StallProbe = time.Second

// MachineLoad is the load around a benchmark run, and the CPU stalls a
// spinning thread saw just before and just after it: what this machine
// adds to any tail latency, whatever runs on it.
type MachineLoad struct {
	// Before and After are the 1, 5 and 15-minute load averages
	// (/proc/loadavg) before and after the run; "" where unreadable.
	Before string `json:"loadAverageBefore"`
	After  string `json:"loadAverageAfter"`
	// StallsBefore and StallsAfter are what the stall probes saw; nil
	// when the run was not probed.
	StallsBefore *stalls.Report `json:"stallsBefore,omitempty"`
	StallsAfter  *stalls.Report `json:"stallsAfter,omitempty"`
}

// before records the load and probes for stalls; probe says whether to.
func (m *MachineLoad) before(ctx context.Context, probe bool) {
	m.Before = loadAverage()
	if probe {
		r := stalls.Probe(ctx, StallProbe)
		m.StallsBefore = &r
	}
}

// after is before's counterpart, at the end of the run.
func (m *MachineLoad) after(ctx context.Context, probe bool) {
	m.After = loadAverage()
	if probe {
		r := stalls.Probe(ctx, StallProbe)
		m.StallsAfter = &r
	}
}

// String is the load and stalls in the lines the tables end with.
func (m MachineLoad) String() string {
	s := fmt.Sprintf("machine load average (1m 5m 15m): before %s, after %s", m.Before, m.After)
	if m.StallsBefore != nil {
		s += "\nCPU stalls seen by one spinning thread, before: " + m.StallsBefore.String()
	}
	if m.StallsAfter != nil {
		s += "\nCPU stalls seen by one spinning thread, after:  " + m.StallsAfter.String()
	}
	return s
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

// startCPUProfile writes a CPU profile of this process to w until the
// returned function is called; a nil w does nothing.
func startCPUProfile(w io.Writer) (func(), error) {
	if w == nil {
		return func() {}, nil
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return pprof.StopCPUProfile, nil
}

// verdict renders a target check.
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

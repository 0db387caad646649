package bench

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"baton.dev/baton/internal/simcluster"
)

// ControlPlaneOptions configures RunControlPlane.
type ControlPlaneOptions struct {
	// Cluster is the simulated cluster to start.
	Cluster simcluster.Config
	// Phases configures the measured phases.
	Phases simcluster.ControlPlaneOptions
	// Stalls probes the machine's CPU stalls before and after the phases.
	Stalls bool
	// CPUProfile, when not nil, receives a CPU profile of the measured
	// phases (not of the cluster's start, nor of the stall probes).
	CPUProfile io.Writer
	// WorkersArgs, when not nil, runs the simulated workers and their
	// NATS server in a process of their own: this executable with these
	// arguments (a hidden command that calls ServeControlPlaneWorkers),
	// so that the CPU and memory measured are the orchestrator's alone.
	WorkersArgs []string
	// WorkersCPUProfile, with WorkersArgs, is a file the workers' process
	// writes a CPU profile of its whole run to.
	WorkersCPUProfile string
	// Verbose logs the simulated components' warnings to stderr.
	Verbose bool
}

// ControlPlaneReport is what RunControlPlane measured: the simulated
// cluster's report and the machine's load around it, one JSON object.
type ControlPlaneReport struct {
	*simcluster.ControlPlaneReport `json:",inline"`
	// Replicas of the orchestrator: the measured leader and its warm
	// standbys (simcluster.Config.Standbys).
	Replicas    int `json:"replicas"`
	MachineLoad `json:",inline"`
	// Fleet is what the process of the simulated workers used, when
	// they ran in one of their own.
	Fleet *FleetUsage `json:"workersProcess,omitempty"`
	// BurstBound is the burst's Bound, where it is known.
	BurstBound *Bound `json:"burstBound,omitempty"`
}

// RunControlPlane starts a simulated cluster (an embedded NATS server and
// real worker daemons on the fake runtime, in this process or in one of
// their own; the orchestrator's worker table, placement and router in
// this one) and measures sandbox creations through it with
// simcluster.RunControlPlane.
func RunControlPlane(ctx context.Context, opts ControlPlaneOptions) (rep *ControlPlaneReport, err error) {
	if opts.WorkersArgs != nil {
		// Starting 10,000 daemons took minutes on this loaded 2-core
		// machine; the orchestrator's side then has its own bound.
		fleetCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		defer cancel()
		spec := fleetSpec{
			Workers: opts.Cluster.Workers, WorkerCPUMilli: opts.Cluster.WorkerCPUMilli, WorkerMemoryBytes: opts.Cluster.WorkerMemoryBytes,
			CreateLatency: opts.Cluster.CreateLatency, HeartbeatInterval: opts.Cluster.HeartbeatInterval,
			FullHeartbeatEvery: opts.Cluster.FullHeartbeatEvery, WorkersPerConnection: opts.Cluster.WorkersPerConnection, Verbose: opts.Verbose,
			CPUProfile: opts.WorkersCPUProfile,
		}
		fp, err := startFleetProcess(fleetCtx, opts.WorkersArgs, spec)
		if err != nil {
			return nil, err
		}
		defer func() {
			usage, stopErr := fp.stop()
			if rep != nil {
				rep.Fleet = &usage
				if b, ok := rep.Bound(); ok {
					rep.BurstBound = &b
				}
			}
			if err == nil && stopErr != nil {
				rep, err = nil, stopErr
			}
		}()
		opts.Cluster.NATSURL = fp.url
		pid := fp.cmd.Process.Pid
		opts.Phases.WorkersCPU = func() (time.Duration, error) { return simcluster.ProcessCPU(pid) }
	}
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c, err := simcluster.Start(startCtx, opts.Cluster)
	if err != nil {
		return nil, err
	}
	defer c.Stop() //nolint:errcheck // the report is what matters
	rep = &ControlPlaneReport{Replicas: opts.Cluster.Standbys + 1}
	rep.before(ctx, opts.Stalls)
	stopProfile, err := startCPUProfile(opts.CPUProfile)
	if err != nil {
		return nil, err
	}
	rep.ControlPlaneReport, err = simcluster.RunControlPlane(ctx, c, opts.Phases)
	stopProfile()
	rep.after(ctx, opts.Stalls)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// Bound is the most creations a second a phase's CPU cost allows on
// the machine that measured it, where the workers ran in a process of
// their own: the cores the burst kept busy, and the rates the machine's
// cores would carry at the burst's CPU per creation, the orchestrator's
// and the workers' process's together and the orchestrator's alone (on
// a machine of its own, the simulated workers elsewhere).
type Bound struct {
	Cores                 float64 `json:"cores"`
	OrchestratorCores     float64 `json:"orchestratorCores"`
	WorkersCores          float64 `json:"workersCores"`
	CPUMicros             float64 `json:"cpuMicrosPerCreation"`
	OrchestratorCPUMicros float64 `json:"orchestratorCpuMicrosPerCreation"`
	MachinePerSecond      float64 `json:"machinePerSecond"`
	OrchestratorPerSecond float64 `json:"orchestratorPerSecond"`
}

// Bound computes the burst's Bound; ok is false where it cannot be
// known: the workers ran in this process, their CPU could not be read,
// or the burst did not finish.
func (r *ControlPlaneReport) Bound() (b Bound, ok bool) {
	if r.Fleet == nil || r.ControlPlaneReport == nil || len(r.Phases) == 0 {
		return b, false
	}
	p := r.Phases[0]
	if p.Error != "" || p.Creations == 0 || p.Seconds <= 0 || p.CPUMicros <= 0 || p.WorkersCPUMicros == nil {
		return b, false
	}
	cores := float64(r.CPUs)
	b.OrchestratorCPUMicros = p.CPUMicros
	b.CPUMicros = p.CPUMicros + *p.WorkersCPUMicros
	b.OrchestratorCores = p.CPUMicros * p.PerSecond / 1e6
	b.WorkersCores = *p.WorkersCPUMicros * p.PerSecond / 1e6
	b.Cores = b.OrchestratorCores + b.WorkersCores
	b.MachinePerSecond = cores * 1e6 / b.CPUMicros
	b.OrchestratorPerSecond = cores * 1e6 / b.OrchestratorCPUMicros
	return b, true
}

// WriteTable prints the report as a table, one phase a row with the
// published figures below, then the workers lost, the verdict on the
// targets and the machine's load.
func (r *ControlPlaneReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "control plane: %d simulated workers (fake runtime), %d functions, %d orchestrator replicas, %d CPUs (GOMAXPROCS %d)\n\n",
		r.Workers, r.Functions, r.Replicas, r.CPUs, r.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tCREATIONS\tFAILED\tSECONDS\tPER SECOND\tP50 MS\tP99 MS\tMAX MS\tCPU µS EACH\tWORKERS' µS EACH\tWHAT")
	for _, p := range r.Phases {
		name := p.Name
		if p.Baseline {
			name += " (baseline)"
		}
		if p.Error != "" {
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\t\t\tdid not finish: %s\n", name, p.Error)
			continue
		}
		workers := "-"
		if p.WorkersCPUMicros != nil {
			workers = fmt.Sprintf("%.0f", *p.WorkersCPUMicros)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.0f\t%.3f\t%.3f\t%.3f\t%.0f\t%s\t%s\n",
			name, p.Creations, p.Failed, p.Seconds, p.PerSecond, p.Latency.P50Ms, p.Latency.P99Ms, p.Latency.MaxMs, p.CPUMicros, workers, p.What)
	}
	for _, ref := range r.Reference {
		fmt.Fprintf(tw, "%s (reference)\t\t\t\t%.0f\t\t\t\t\t\t%s\n", ref.System, ref.PerSecond, ref.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	where := "in a process of their own: the figures are the orchestrator's (and its NATS client's)"
	if r.WorkersInProcess {
		where = "in this process: the CPU and memory figures count them and the NATS server too"
	}
	fmt.Fprintf(w, "\nsimulated workers ran %s\n", where)
	hb := r.Heartbeats
	fmt.Fprintf(w, "heartbeats on an idle control plane: %.0f/s, %.1f µs of CPU each, %.3f cores\n", hb.PerSecond, hb.CPUMicrosEach, hb.Cores)
	m := r.Memory
	fmt.Fprintf(w, "orchestrator memory: %.0f B resident (%.0f B heap) per worker, %.0f B resident (%.0f B heap) per function with no sandbox; resident %d MiB with workers, %d MiB with functions, peak %d MiB\n",
		m.RSSPerWorker, m.HeapPerWorker, m.RSSPerFunction, m.HeapPerFunction, m.Workers.RSSBytes>>20, m.Functions.RSSBytes>>20, m.End.PeakRSSBytes>>20)
	if r.Fleet != nil {
		fmt.Fprintf(w, "workers' process: %.1f CPU-seconds in all, peak %d MiB resident\n", r.Fleet.CPUSeconds, r.Fleet.PeakRSSBytes>>20)
		if b, ok := r.Bound(); ok {
			fmt.Fprintf(w, "the burst's bound on this machine: it kept %.2f of %d cores busy (orchestrator %.2f, workers' process %.2f); at %.0f µs of CPU per creation in all, %d cores carry at most %.0f creations/s, and the orchestrator's %.0f µs alone at most %.0f/s\n",
				b.Cores, r.CPUs, b.OrchestratorCores, b.WorkersCores, b.CPUMicros, r.CPUs, b.MachinePerSecond, b.OrchestratorCPUMicros, b.OrchestratorPerSecond)
		}
	}
	fmt.Fprintf(w, "\nworkers wrongly declared dead (late heartbeats): %d\n", r.WorkersLost)
	fmt.Fprintf(w, "target: >= %.0f creations/s with p99 <= %.1f ms at that rate: %s\n", r.TargetPerSecond, r.TargetP99Ms, verdict(r.Met))
	memVerdict := verdict(r.MemoryMet)
	if r.WorkersInProcess {
		memVerdict = "not measured (the workers ran in this process)"
	}
	fmt.Fprintf(w, "target: <= %.0f B per function and <= %.0f B per worker, resident: %s\n", r.TargetBytesPerFunction, r.TargetBytesPerWorker, memVerdict)
	_, err := fmt.Fprintln(w, r.MachineLoad)
	return err
}

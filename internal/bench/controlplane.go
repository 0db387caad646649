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
}

// ControlPlaneReport is what RunControlPlane measured: the simulated
// cluster's report and the machine's load around it, one JSON object.
type ControlPlaneReport struct {
	*simcluster.ControlPlaneReport `json:",inline"`
	// Replicas of the orchestrator: the measured leader and its warm
	// standbys (simcluster.Config.Standbys).
	Replicas    int `json:"replicas"`
	MachineLoad `json:",inline"`
}

// RunControlPlane starts a simulated cluster in this process (an embedded
// NATS server, real worker daemons on the fake runtime, the orchestrator's
// worker table, placement and router) and measures sandbox creations
// through it with simcluster.RunControlPlane.
func RunControlPlane(ctx context.Context, opts ControlPlaneOptions) (*ControlPlaneReport, error) {
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := simcluster.Start(startCtx, opts.Cluster)
	if err != nil {
		return nil, err
	}
	defer c.Stop() //nolint:errcheck // the report is what matters
	stopProfile, err := startCPUProfile(opts.CPUProfile)
	if err != nil {
		return nil, err
	}
	rep := &ControlPlaneReport{Replicas: opts.Cluster.Standbys + 1}
	rep.before(ctx, opts.Stalls)
	rep.ControlPlaneReport, err = simcluster.RunControlPlane(ctx, c, opts.Phases)
	stopProfile()
	rep.after(ctx, opts.Stalls)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// WriteTable prints the report as a table, one phase a row with the
// published figures below, then the workers lost, the verdict on the
// targets and the machine's load.
func (r *ControlPlaneReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "control plane: %d simulated workers (fake runtime), %d functions, %d orchestrator replicas, %d CPUs (GOMAXPROCS %d)\n\n",
		r.Workers, r.Functions, r.Replicas, r.CPUs, r.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tCREATIONS\tFAILED\tSECONDS\tPER SECOND\tP50 MS\tP99 MS\tMAX MS\tCPU µS EACH\tWHAT")
	for _, p := range r.Phases {
		name := p.Name
		if p.Baseline {
			name += " (baseline)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.0f\t%.3f\t%.3f\t%.3f\t%.0f\t%s\n",
			name, p.Creations, p.Failed, p.Seconds, p.PerSecond, p.Latency.P50Ms, p.Latency.P99Ms, p.Latency.MaxMs, p.CPUMicros, p.What)
	}
	for _, ref := range r.Reference {
		fmt.Fprintf(tw, "%s (reference)\t\t\t\t%.0f\t\t\t\t\t%s\n", ref.System, ref.PerSecond, ref.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nworkers wrongly declared dead (late heartbeats): %d\n", r.WorkersLost)
	fmt.Fprintf(w, "target: >= %.0f creations/s with p99 <= %.1f ms at that rate: %s\n", r.TargetPerSecond, r.TargetP99Ms, verdict(r.Met))
	_, err := fmt.Fprintln(w, r.MachineLoad)
	return err
}

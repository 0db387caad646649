package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/simcluster"
)

func benchControlPlaneCmd() *cobra.Command {
	var (
		cfg        simcluster.Config
		opts       simcluster.ControlPlaneOptions
		out        string
		cpuProfile string
		verbose    bool
		probe      bool
	)
	cmd := &cobra.Command{
		Use:   "controlplane",
		Short: "Sandbox creations per second and scheduling latency on a simulated cluster (fake runtime)",
		Long: `Runs a simulated cluster in this process: an embedded NATS server, --workers
real worker daemons with the FAKE runtime (sandboxes are map entries; this
measures the control plane, not containers), and the orchestrator's worker
table, placement and router. Then it creates sandboxes through
Router.Apply → placement → NATS request/reply → daemon → reply → pool:

  burst            one creation for each of --functions functions, all at once
  paced            the same, offered at --rate per second (scheduling latency)
  serial           baseline: the same path, one creation at a time
  placement-only   baseline: Workers.Reserve+Release alone, no NATS

Published figures are printed for reference: Dirigent 2,500/s, Knative ~2/s.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			orchestratorGC()
			if err := checkOutput(out); err != nil {
				return err
			}
			switch {
			case cfg.Workers < 1:
				return fmt.Errorf("flag --workers %d: want at least 1", cfg.Workers)
			case opts.Functions < 1:
				return fmt.Errorf("flag --functions %d: want at least 1", opts.Functions)
			case opts.Rate <= 0:
				return fmt.Errorf("flag --rate %v: want > 0", opts.Rate)
			}
			if verbose {
				cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			}
			ctx := cmd.Context()
			startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			c, err := simcluster.Start(startCtx, cfg)
			if err != nil {
				return err
			}
			defer c.Stop() //nolint:errcheck // the report is what matters
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			var load machineLoad
			load.before(ctx, probe)
			rep, err := simcluster.RunControlPlane(ctx, c, opts)
			stop()
			load.after(ctx, probe)
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(cmd.OutOrStdout(), struct {
					*simcluster.ControlPlaneReport
					machineLoad
				}{rep, load})
			}
			if err := printControlPlane(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), load)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Workers, "workers", 1000, "simulated workers (each a real daemon on its own NATS connection)")
	f.Int64Var(&cfg.WorkerCPUMilli, "worker-cpu", simcluster.DefaultWorkerCPUMilli, "each worker's CPU capacity in millicores")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 0, "workers' heartbeat interval (0: the daemon's default)")
	f.DurationVar(&cfg.CreateLatency, "create-latency", 0, "fake sandbox creation time")
	f.IntVar(&opts.Functions, "functions", 10000, "functions; the burst and paced phases create one sandbox for each")
	f.Float64Var(&opts.Rate, "rate", simcluster.TargetPerSecond, "offered creations per second in the paced phase")
	f.IntVar(&opts.Serial, "serial", 1000, "creations in the serial baseline")
	f.IntVar(&opts.PlacementOps, "placements", 10000, "placements in the placement-only baseline")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phases to this file")
	stallsFlag(cmd, &probe)
	f.BoolVar(&verbose, "verbose", false, "log the simulated components' warnings to stderr")
	outputFlag(cmd, &out)
	return cmd
}

func printControlPlane(w io.Writer, rep *simcluster.ControlPlaneReport) error {
	fmt.Fprintf(w, "control plane: %d simulated workers (fake runtime), %d functions, %d CPUs (GOMAXPROCS %d)\n\n",
		rep.Workers, rep.Functions, rep.CPUs, rep.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tCREATIONS\tFAILED\tSECONDS\tPER SECOND\tP50 MS\tP99 MS\tMAX MS\tCPU µS EACH\tWHAT")
	for _, p := range rep.Phases {
		name := p.Name
		if p.Baseline {
			name += " (baseline)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.0f\t%.3f\t%.3f\t%.3f\t%.0f\t%s\n",
			name, p.Creations, p.Failed, p.Seconds, p.PerSecond, p.Latency.P50Ms, p.Latency.P99Ms, p.Latency.MaxMs, p.CPUMicros, p.What)
	}
	for _, r := range rep.Reference {
		fmt.Fprintf(tw, "%s (reference)\t\t\t\t%.0f\t\t\t\t\t%s\n", r.System, r.PerSecond, r.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nworkers wrongly declared dead (late heartbeats): %d\n", rep.WorkersLost)
	_, err := fmt.Fprintf(w, "target: >= %.0f creations/s with p99 <= %.1f ms at that rate: %s\n", rep.TargetPerSecond, rep.TargetP99Ms, verdict(rep.Met))
	return err
}

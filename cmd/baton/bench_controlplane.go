package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
	"baton.dev/baton/internal/simcluster"
)

// controlPlaneWorkersArgs are the arguments that run
// benchControlPlaneWorkersCmd, the child of `baton bench controlplane
// --workers-process`.
var controlPlaneWorkersArgs = []string{"bench", "controlplane-workers"}

func benchControlPlaneCmd() *cobra.Command {
	var (
		opts           bench.ControlPlaneOptions
		out            string
		cpuProfile     string
		replicas       int
		workersProcess bool
	)
	cmd := &cobra.Command{
		Use:   "controlplane",
		Short: "Sandbox creations per second and scheduling latency on a simulated cluster (fake runtime)",
		Long: `Runs a simulated cluster: an embedded NATS server and --workers real worker
daemons with the FAKE runtime (sandboxes are map entries; this measures the
control plane, not containers), in a process of their own unless
--workers-process=false, and in this process the orchestrator's worker
table, placement and router. It measures the heartbeats' cost on the idle
control plane and the orchestrator's memory per worker and per function
(deployed, no sandbox). Then it creates sandboxes through
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
			case opts.Cluster.Workers < 1:
				return fmt.Errorf("flag --workers %d: want at least 1", opts.Cluster.Workers)
			case opts.Phases.Functions < 1:
				return fmt.Errorf("flag --functions %d: want at least 1", opts.Phases.Functions)
			case opts.Phases.Rate <= 0:
				return fmt.Errorf("flag --rate %v: want > 0", opts.Phases.Rate)
			case opts.WorkersCPUProfile != "" && !workersProcess:
				return errors.New("flag --workers-cpuprofile: needs --workers-process (with the workers in this process, --cpuprofile profiles them)")
			}
			if opts.WorkersCPUProfile != "" {
				abs, err := filepath.Abs(opts.WorkersCPUProfile)
				if err != nil {
					return fmt.Errorf("flag --workers-cpuprofile: %w", err)
				}
				opts.WorkersCPUProfile = abs // the child's directory may differ
			}
			if workersProcess {
				opts.WorkersArgs = controlPlaneWorkersArgs
			}
			if opts.Verbose {
				opts.Cluster.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			}
			if replicas < 1 {
				return fmt.Errorf("flag --replicas %d: want at least 1", replicas)
			}
			opts.Cluster.Standbys = replicas - 1
			var closeProfile func()
			var err error
			if opts.CPUProfile, closeProfile, err = createCPUProfile(cpuProfile); err != nil {
				return err
			}
			defer closeProfile()
			rep, err := bench.RunControlPlane(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printReport(cmd.OutOrStdout(), out, rep)
		},
	}
	f := cmd.Flags()
	f.IntVar(&replicas, "replicas", 1, "orchestrator replicas: the measured one leads (it holds the lease), the others are warm standbys in this process, following the heartbeats and definitions")
	f.IntVar(&opts.Cluster.Workers, "workers", 1000, "simulated workers (each a real daemon on its own NATS connection)")
	f.Int64Var(&opts.Cluster.WorkerCPUMilli, "worker-cpu", simcluster.DefaultWorkerCPUMilli, "each worker's CPU capacity in millicores")
	f.DurationVar(&opts.Cluster.HeartbeatInterval, "heartbeat", 0, "workers' heartbeat interval (0: the daemon's default)")
	f.IntVar(&opts.Cluster.WorkersPerConnection, "workers-per-connection", 1, "simulated workers sharing one NATS connection (1: one each, as on a real cluster; more spares the simulation's process, not the orchestrator's)")
	f.IntVar(&opts.Cluster.FullHeartbeatEvery, "full-heartbeat-every", 1, "workers send a full heartbeat only when their state changed or every this many beats, short beats between (1: every heartbeat full)")
	f.DurationVar(&opts.Cluster.CreateLatency, "create-latency", 0, "fake sandbox creation time")
	f.IntVar(&opts.Phases.Functions, "functions", 10000, "functions; the burst and paced phases create one sandbox for each")
	f.Float64Var(&opts.Phases.Rate, "rate", simcluster.TargetPerSecond, "offered creations per second in the paced phase")
	f.IntVar(&opts.Phases.Serial, "serial", 1000, "creations in the serial baseline")
	f.IntVar(&opts.Phases.PlacementOps, "placements", 10000, "placements in the placement-only baseline")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phases to this file")
	f.StringVar(&opts.WorkersCPUProfile, "workers-cpuprofile", "", "with --workers-process, have the workers' process write a CPU profile of its whole run (its NATS server and the simulated daemons) to this file")
	stallsFlag(cmd, &opts.Stalls)
	f.BoolVar(&opts.Verbose, "verbose", false, "log the simulated components' warnings to stderr")
	f.BoolVar(&workersProcess, "workers-process", true, "run the simulated workers and their NATS server in a process of their own, so that the CPU and memory measured are the orchestrator's alone")
	outputFlag(cmd, &out)
	return cmd
}

// benchControlPlaneWorkersCmd is the child of `baton bench controlplane
// --workers-process` (controlPlaneWorkersArgs); it is not for people.
func benchControlPlaneWorkersCmd() *cobra.Command {
	return benchChildCmd(controlPlaneWorkersArgs,
		"The simulated workers of `baton bench controlplane --workers-process` (reads them as JSON on stdin, runs until stdin ends)",
		bench.ServeControlPlaneWorkers)
}

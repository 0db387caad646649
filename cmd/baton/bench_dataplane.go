package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
)

// dataPlaneClientArgs are the arguments that run benchDataPlaneClientCmd,
// the child of `baton bench dataplane --client-process`.
var dataPlaneClientArgs = []string{"bench", "dataplane-client"}

func benchDataPlaneCmd() *cobra.Command {
	var (
		opts          bench.DataPlaneOptions
		out           string
		cpuProfile    string
		clientProcess bool
	)
	cmd := &cobra.Command{
		Use:   "dataplane",
		Short: "Warm invocations through the orchestrator against the same requests sent straight to the sandboxes",
		Long: `Starts Baton on this machine (one worker, containerd by default, history off),
deploys a one-stage workflow of the echo test function and warms --sandboxes
sandboxes. Then, with one HTTP client and the same load on both sides:

  paced        --rate requests/s, open loop, alternating between the two paths
               every --block until each has had --seconds: the latency Baton
               adds (its p50 and p99 minus the direct ones)
  saturation   --sandboxes requests always in flight for --saturation-seconds:
               the throughput ratio Baton / direct

"Direct" posts to the same warm sandboxes' endpoints (read from containerd's
container labels), in turn, bypassing the orchestrator. Targets: added p50
<= 200us and p99 <= 1ms at 1,000 requests/s; ratio >= 0.5 at saturation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			orchestratorGC()
			if err := checkOutput(out); err != nil {
				return err
			}
			switch {
			case opts.Rate <= 0:
				return fmt.Errorf("flag --rate %v: want > 0", opts.Rate)
			case opts.Sandboxes < 1:
				return fmt.Errorf("flag --sandboxes %d: want at least 1", opts.Sandboxes)
			case opts.Seconds <= 0 || opts.SaturationSeconds <= 0:
				return fmt.Errorf("flags --seconds and --saturation-seconds: want > 0")
			case opts.Block <= 0:
				return fmt.Errorf("flag --block %v: want > 0", opts.Block)
			}
			if clientProcess {
				opts.ClientArgs = dataPlaneClientArgs
			}
			var closeProfile func()
			var err error
			if opts.CPUProfile, closeProfile, err = createCPUProfile(cpuProfile); err != nil {
				return err
			}
			defer closeProfile()
			rep, err := bench.RunDataPlane(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printReport(cmd.OutOrStdout(), out, rep)
		},
	}
	localFlags(cmd.Flags(), &opts.Local)
	cmd.Flags().Float64Var(&opts.Rate, "rate", 1000, "requests per second in the paced comparison")
	cmd.Flags().DurationVar(&opts.Seconds, "seconds", 5*time.Second, "paced time per path (the paths alternate, so the run takes twice this)")
	cmd.Flags().DurationVar(&opts.Block, "block", 100*time.Millisecond, "the paced run alternates between the paths in blocks this long")
	cmd.Flags().DurationVar(&opts.SaturationSeconds, "saturation-seconds", 5*time.Second, "length of each saturation run")
	cmd.Flags().IntVar(&opts.Sandboxes, "sandboxes", 4, "warm sandboxes, and the concurrency at saturation")
	cmd.Flags().IntVar(&opts.Local.Replicas, "replicas", 1, "orchestrator replicas (above 1: a leader and standbys electing it, the load sent to the leader), to price replication")
	stallsFlag(cmd, &opts.Stalls)
	cmd.Flags().BoolVar(&clientProcess, "client-process", false, "run the HTTP client in a process of its own, as a real client is, instead of in the bench's (and Baton's) process")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (Baton, client and both paths) to this file")
	outputFlag(cmd, &out)
	return cmd
}

// benchDataPlaneClientCmd is the child of `baton bench dataplane
// --client-process` (dataPlaneClientArgs); it is not for people.
func benchDataPlaneClientCmd() *cobra.Command {
	return benchChildCmd(dataPlaneClientArgs, loadClientShort("dataplane"), bench.ServeDataPlaneLoad)
}

// loadClientShort describes the child of `baton bench <name>
// --client-process`.
func loadClientShort(name string) string {
	return "The load client of `baton bench " + name + " --client-process` (reads its load as JSON on stdin)"
}

// benchChildCmd is a hidden command, the last of args, that serves a
// child process of a bench (short says which): it reads its input as
// JSON on stdin and writes what it measured as JSON on stdout.
func benchChildCmd(args []string, short string, serve func(context.Context, io.Reader, io.Writer) error) *cobra.Command {
	return &cobra.Command{
		Use:    args[len(args)-1],
		Short:  short,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
)

// overloadClientArgs are the arguments that run benchOverloadClientCmd,
// the child of `baton bench overload --client-process`.
var overloadClientArgs = []string{"bench", "overload-client"}

func benchOverloadCmd() *cobra.Command {
	var (
		opts          bench.OverloadOptions
		out           string
		clientProcess bool
	)
	cmd := &cobra.Command{
		Use:   "overload",
		Short: "Offered load from below to far above one worker's capacity, one tenant and two: goodput, latency, refusals, memory, log volume",
		Long: `Starts Baton on this machine with one worker holding --sandboxes sandboxes of
the echo function, each call taking --delay (capacity: sandboxes/delay calls
per second), and offers each of --loads (multiples of the capacity) for
--step, open loop, from one tenant: goodput, p50 and p99 of the served calls,
refusals (503 or 429 with Retry-After), other failures, Baton's peak memory
and goroutines (its process: orchestrator, NATS and worker daemon; the load's
clients run in processes of their own unless --client-process=false), and
Baton's log lines per minute. Then a second tenant
sends a steady 0.2x alone, and beside the first tenant at the highest load.

Targets: goodput at the highest load at least 0.9 of goodput at 1x (no
collapse); the second tenant's p99 beside the flood within 1.5x of alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			orchestratorGC()
			if err := checkOutput(out); err != nil {
				return err
			}
			for i, l := range opts.Loads {
				if l <= 0 || (i > 0 && l <= opts.Loads[i-1]) {
					return fmt.Errorf("flag --loads %v: want positive multiples of the capacity, rising", opts.Loads)
				}
			}
			if clientProcess {
				opts.ClientArgs = overloadClientArgs
			}
			rep, err := bench.RunOverload(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printReport(cmd.OutOrStdout(), out, rep)
		},
	}
	localFlags(cmd.Flags(), &opts.Local)
	f := cmd.Flags()
	f.IntVar(&opts.Sandboxes, "sandboxes", 4, "the worker's room, in sandboxes of the echo function (128Mi each)")
	f.DurationVar(&opts.Delay, "delay", 100*time.Millisecond, "each call's time")
	f.Float64SliceVar(&opts.Loads, "loads", []float64{0.5, 1, 2, 5, 10}, "offered loads, in multiples of the capacity, rising")
	f.DurationVar(&opts.Step, "step", 10*time.Second, "how long each load is offered")
	f.IntVar(&opts.MaxQueue, "max-queue", 50, "most requests waiting for a sandbox of the function")
	f.DurationVar(&opts.MaxQueueWait, "max-queue-wait", 2*time.Second, "longest a request waits for a sandbox")
	f.BoolVar(&clientProcess, "client-process", true, "run each tenant's load client in a process of its own, so that the peaks measured are Baton's alone")
	outputFlag(cmd, &out)
	return cmd
}

// benchOverloadClientCmd is the child of `baton bench overload
// --client-process` (overloadClientArgs); it is not for people.
func benchOverloadClientCmd() *cobra.Command {
	return benchChildCmd(overloadClientArgs, loadClientShort("overload"), bench.ServeOverloadLoad)
}

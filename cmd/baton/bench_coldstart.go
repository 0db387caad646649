package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
	"baton.dev/baton/internal/standalone"
)

func benchColdStartCmd() *cobra.Command {
	var (
		opts bench.ColdStartOptions
		out  string
	)
	cmd := &cobra.Command{
		Use:   "coldstart",
		Short: "Concurrent cold starts through Baton against the same sandboxes made with containerd and CNI directly",
		Long: `Starts Baton on this machine (one worker on containerd, history off) and runs
two sides, each -n sandboxes of the echo test function (1000m CPU, 128Mi,
own network namespace on a CNI bridge), all at once:

  direct (baseline)  worker/containerd.Runtime.Create on the same containerd,
                     in its own namespace and subnet, then one POST: containerd's
                     Go client and CNI without Baton's orchestrator, NATS or daemon
  baton              -n workflows, each invoked once, concurrently, through the API:
                     every invocation waits for its own new sandbox

It reports the throughput ratio (Baton / direct; target >= 0.8), the time
Baton adds at p50 (target <= 10 ms) and the mean cold-start phases.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			orchestratorGC()
			if err := checkOutput(out); err != nil {
				return err
			}
			if opts.N < 1 {
				return fmt.Errorf("flag -n %d: want at least 1", opts.N)
			}
			if opts.Local.Runtime != standalone.RuntimeContainerd {
				return fmt.Errorf("flag --runtime %q: the cold-start comparison needs containerd", opts.Local.Runtime)
			}
			rep, err := bench.RunColdStart(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	localFlags(cmd.Flags(), &opts.Local)
	cmd.Flags().IntVarP(&opts.N, "n", "n", 50, "concurrent cold starts on each side")
	outputFlag(cmd, &out)
	return cmd
}

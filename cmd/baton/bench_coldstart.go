package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
	"baton.dev/baton/internal/standalone"
)

func benchColdStartCmd() *cobra.Command {
	var (
		opts           bench.ColdStartOptions
		out            string
		pull           bool
		burst, deploys int
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
Baton adds at p50 (target <= 10 ms) and the mean cold-start phases.

With --pull, every cold start is of an image the worker has never seen,
served by a real registry started for the run (TLS, its own CA): each side
gets -n distinct images (the echo function flattened into one layer with a
unique file, so no two share a blob). The baseline runs 'ctr images pull'
then the same Runtime.Create; Baton's workflows are pinned at deploy and
the worker pulls. Targets: throughput ratio >= 0.9, Baton's pull phase
within 10% of ctr's pull. It also reports --burst cold starts of one
never-seen image at once (target: one pull) against one alone, and the
latency of --deploys deploys that resolve a tag against the registry.`,
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
			if pull {
				rep, err := bench.RunPull(cmd.Context(), bench.PullOptions{Local: opts.Local, N: opts.N, Burst: burst, Deploys: deploys})
				if err != nil {
					return err
				}
				return printReport(cmd.OutOrStdout(), out, rep)
			}
			rep, err := bench.RunColdStart(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printReport(cmd.OutOrStdout(), out, rep)
		},
	}
	localFlags(cmd.Flags(), &opts.Local)
	cmd.Flags().IntVarP(&opts.N, "n", "n", 50, "concurrent cold starts on each side")
	cmd.Flags().BoolVar(&pull, "pull", false, "cold starts of never-seen images from a registry started for the run, against ctr images pull")
	cmd.Flags().IntVar(&burst, "burst", 20, "with --pull: cold starts of one never-seen image at once")
	cmd.Flags().IntVar(&deploys, "deploys", 50, "with --pull: deploys with tag resolution to time")
	outputFlag(cmd, &out)
	return cmd
}

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
)

func benchPrewarmCmd() *cobra.Command {
	var (
		opts               bench.PrewarmOptions
		traceArg, policies string
		out                string
		functions          int
		seed               uint64
	)
	cmd := &cobra.Command{
		Use:   "prewarm",
		Short: "Replay a slice of a trace against real sandboxes under each pre-warm policy",
		Long: `Replays the first minutes of a trace (synthetic, or Azure Functions 2019/2021
from a directory) for a few of its functions against a standalone Baton on
containerd, once per pre-warm policy, speeded up: one live second replays
--speedup trace seconds, and the policies' intervals and keep-alives are
scaled with it (cold starts are not: they are real). Each function is a
one-stage workflow of the echo test function answering after its mean
duration, scaled. Per policy it reports the share of invocations that
waited for a cold start, the idle sandbox-seconds (in trace time), the p99
latency and the planner's time per decision, measured live.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			orchestratorGC()
			if err := checkOutput(out); err != nil {
				return err
			}
			if opts.Speedup < 1 {
				return fmt.Errorf("flag --speedup %g: want ≥ 1", opts.Speedup)
			}
			for _, c := range []struct {
				flag string
				n    int
			}{{"--minutes", opts.Minutes}, {"--pick", opts.Pick}, {"--functions", functions}} {
				if c.n <= 0 {
					return fmt.Errorf("flag %s %d: want > 0", c.flag, c.n)
				}
			}
			for _, n := range strings.Split(policies, ",") {
				if n = strings.TrimSpace(n); n != "" {
					if _, err := bench.ScaledPrewarmPolicy(n, opts.Speedup); err != nil {
						return fmt.Errorf("flag --policy: %w", err)
					}
					opts.Policies = append(opts.Policies, n)
				}
			}
			var err error
			if opts.Trace, err = loadTrace(traceArg, functions, opts.Minutes, seed); err != nil {
				return err
			}
			opts.Progress = cmd.ErrOrStderr()
			rep, err := bench.RunPrewarm(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printReport(cmd.OutOrStdout(), out, rep)
		},
	}
	localFlags(cmd.Flags(), &opts.Local)
	f := cmd.Flags()
	f.StringVar(&traceArg, "trace", "synthetic", "trace directory (Azure Functions 2019 or 2021 format), or synthetic")
	f.IntVar(&functions, "functions", 200, "functions of the trace to choose from (a sample of a real trace)")
	f.IntVar(&opts.Pick, "pick", 8, "functions to replay, spread over the trace's invocation counts")
	f.IntVar(&opts.Minutes, "minutes", 30, "minutes of the trace to replay")
	f.Float64Var(&opts.Speedup, "speedup", 10, "trace seconds replayed per live second")
	f.StringVar(&policies, "policy", "aquatope,keepalive-10m,hybrid-histogram", "policies to replay, separated by commas")
	f.Uint64Var(&seed, "seed", 1, "seed of the synthetic trace and of the sample")
	outputFlag(cmd, &out)
	return cmd
}

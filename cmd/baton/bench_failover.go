package main

import (
	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
	"baton.dev/baton/orchestrator/leader"
)

func benchFailoverCmd() *cobra.Command {
	var (
		opts bench.FailoverOptions
		out  string
	)
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Kill the leading orchestrator replica under load, again and again: failover time and failed invocations",
		Long: `Starts a NATS server, one worker and --replicas orchestrator replicas (each a
` + "`baton orchestrator`" + ` process) on this machine, invokes a warm echo workflow at
--rate per second, open loop, through a client that knows every replica, and
kills the leader with SIGKILL --trials times, starting it again (as a standby)
after each. Per trial: the failover time (from the kill to the answer of the
first invocation sent after the leader was gone that succeeded), the failed
invocations against those in flight in the dead leader, and any that failed
after it was gone. Targets: failover p50 <= 1 s, max <= 2 s; failures only
among those in flight.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			opts.OrchestratorArgs = []string{"orchestrator"}
			rep, err := bench.RunFailover(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printReport(cmd.OutOrStdout(), out, rep)
		},
	}
	localFlags(cmd.Flags(), &opts.Local)
	f := cmd.Flags()
	f.IntVar(&opts.Replicas, "replicas", 2, "orchestrator replicas")
	f.IntVar(&opts.Trials, "trials", 10, "how many times the leader is killed")
	f.Float64Var(&opts.Rate, "rate", 200, "invocations per second, open loop")
	f.DurationVar(&opts.LeaseTTL, "lease-ttl", leader.DefaultTTL, "the replicas' --lease-ttl")
	outputFlag(cmd, &out)
	return cmd
}

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/scheduler/trace"
)

// simTraceCmd is `baton sim trace`: writes a synthetic trace in the Azure
// Functions 2019 format, with the heavy head of the real one.
func simTraceCmd() *cobra.Command {
	var dir, out string
	var opts trace.HeavyOptions
	var hours int
	cmd := &cobra.Command{
		Use:   "trace --out DIR",
		Short: "Write a synthetic trace in the Azure Functions 2019 format",
		Long: `Writes a synthetic invocation trace into DIR in the Azure Functions 2019
format (per function and minute, the number of invocations; per function,
duration percentiles; per app, memory), ready for baton sim prewarm --trace DIR.
Its most popular functions (--head) have the heavy head of a day of the real
trace: together called --head-per-day times a day, the busiest --busiest-per-day
times, the others falling as a power of their rank; the functions beyond the
head are a long tail of rarely called ones.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if dir == "" {
				return fmt.Errorf("flag --out is required: the directory to write the trace into")
			}
			if hours <= 0 {
				return fmt.Errorf("flag --hours %d: want > 0", hours)
			}
			opts.Minutes = hours * 60
			gen, err := trace.Heavy(opts)
			if err != nil {
				return err
			}
			start := time.Now()
			sum, err := trace.WriteAzure2019(dir, opts.Minutes, opts.Functions, gen)
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(cmd.OutOrStdout(), sum)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s in %.1f s: %d functions over %d day(s), %d invocations, the busiest function %d (at most %d in a minute)\n",
				dir, time.Since(start).Seconds(), sum.Functions, sum.Days, sum.Invocations, sum.Busiest, sum.BusiestMinute)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "out", "", "directory to write the trace into")
	cmd.Flags().IntVar(&opts.Functions, "functions", trace.DefaultHead, "functions in the trace")
	cmd.Flags().IntVar(&hours, "hours", 24, "hours of trace")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 1, "seed of the trace")
	cmd.Flags().IntVar(&opts.Head, "head", 0, "functions in the heavy head (default min(--functions, 1000))")
	cmd.Flags().Float64Var(&opts.HeadPerDay, "head-per-day", trace.DefaultHeadPerDay, "calls a day of the head's functions together")
	cmd.Flags().Float64Var(&opts.BusiestPerDay, "busiest-per-day", trace.DefaultBusiestPerDay, "calls a day of the busiest function")
	outputFlag(cmd, &out)
	return cmd
}

package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/scheduler/sim"
	"baton.dev/baton/workflow"
)

func simCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate workflows from their profiles",
	}
	cmd.AddCommand(simTuneCmd(), simPrewarmCmd(), simTraceCmd())
	return cmd
}

func simTuneCmd() *cobra.Command {
	var wfFile, profFile, policies, out string
	var seeds, budget int
	var qos time.Duration
	cmd := &cobra.Command{
		Use:   "tune --workflow FILE --profile FILE",
		Short: "Compare resource policies side by side on a simulated workflow",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if wfFile == "" || profFile == "" {
				return fmt.Errorf("flags --workflow and --profile are required")
			}
			src, err := os.ReadFile(wfFile)
			if err != nil {
				return fmt.Errorf("flag --workflow: %w", err)
			}
			w, err := workflow.Parse(wfFile, src)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(profFile)
			if err != nil {
				return fmt.Errorf("flag --profile: %w", err)
			}
			p, err := profile.Parse(profFile, data)
			if err != nil {
				return fmt.Errorf("flag --profile: %w", err)
			}
			names, err := policyList(policies)
			if err != nil {
				return err
			}
			if seeds <= 0 {
				return fmt.Errorf("flag --seeds %d: want > 0", seeds)
			}
			target, err := scheduler.TargetOf(w)
			if err != nil {
				return err
			}
			if qos < 0 {
				return fmt.Errorf("flag --qos %s: want a positive latency", qos)
			}
			if qos > 0 {
				target.LatencyMs = float64(qos.Microseconds()) / 1000
			}
			space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
			if err != nil {
				return err
			}
			s, err := sim.New(w, p, scheduler.DefaultPrices())
			if err != nil {
				return fmt.Errorf("flag --profile: %w", err)
			}
			rep, err := sim.Tune(cmd.Context(), s, space, target, p.Source, sim.TuneOptions{Policies: names, Seeds: seeds, Budget: budget})
			if err != nil {
				return err
			}
			if out == "json" {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&wfFile, "workflow", "", "workflow YAML file")
	cmd.Flags().StringVar(&profFile, "profile", "", "profile JSON file (baton profile)")
	cmd.Flags().StringVar(&policies, "policy", "all", "all, or policy names separated by commas: "+strings.Join(scheduler.PolicyNames(), ","))
	cmd.Flags().IntVar(&seeds, "seeds", 20, "seeds per policy")
	cmd.Flags().DurationVar(&qos, "qos", 0, "latency target to tune for instead of the workflow's own (its percentile is kept), e.g. to make a slack target binding")
	cmd.Flags().IntVar(&budget, "budget", 0, "evaluation budget (default 30 for ≤ 4 stages, else 60)")
	outputFlag(cmd, &out)
	return cmd
}

// policyList parses --policy.
func policyList(s string) ([]string, error) {
	if s == "all" {
		return scheduler.PolicyNames(), nil
	}
	known := scheduler.PolicyNames()
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		ok := false
		for _, k := range known {
			ok = ok || k == name
		}
		if !ok {
			return nil, fmt.Errorf("flag --policy: unknown policy %q: want all or some of %s", name, strings.Join(known, ","))
		}
		out = append(out, name)
	}
	return out, nil
}

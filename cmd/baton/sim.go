package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
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

// bindingCheckWindows is how many windows of static-max check a binding target.
const bindingCheckWindows = 2000

func simTuneCmd() *cobra.Command {
	var wfFile, profFile, policies, out, qos, samples string
	var opts sim.TuneOptions
	cmd := &cobra.Command{
		Use:   "tune (--workflow FILE --profile FILE | --samples [DIR])",
		Short: "Compare resource policies side by side on a simulated workflow",
		Long: `Compare resource policies side by side on a simulated workflow.

By default the latency target is binding (--qos binding): the tightest that
static-max meets in all but 1% of validation windows, found by the simulator,
so that the QoS constrains every policy. --qos workflow keeps the workflow's
own target; --qos 470ms sets one. --samples runs every sample of DIR (default
dags) that has a profile in DIR/profiles and ends with a table of each
sample's configurators (aquatope, aquatope-stages) against the targets of
issue 22.

--rate N (invocations a minute, Poisson) adds the pre-warm plan's idle cost:
each choice is priced (execution, idle and start-up cost per invocation) and
validated with the cold starts its QoS-aware pre-warm plan lets through, and
every policy that explores runs again choosing resources and pre-warm
settings together, its objective the total. --rate 0 (the default) leaves it
out and gives the figures of execution cost alone; 1 is a workflow invoked
once a minute, where idle dominates, 100 a busy one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			names, err := policyList(policies)
			if err != nil {
				return err
			}
			opts.Policies = names
			if opts.Seeds <= 0 {
				return fmt.Errorf("flag --seeds %d: want > 0", opts.Seeds)
			}
			if opts.Windows <= 0 {
				return fmt.Errorf("flag --windows %d: want > 0", opts.Windows)
			}
			if !(opts.ArrivalsPerMinute >= 0) || math.IsInf(opts.ArrivalsPerMinute, 0) {
				return fmt.Errorf("flag --rate %v: want invocations a minute, ≥ 0 (0: no pre-warm cost)", opts.ArrivalsPerMinute)
			}
			var pairs [][2]string
			switch {
			case samples != "" && (wfFile != "" || profFile != ""):
				return fmt.Errorf("flag --samples runs every sample: leave --workflow and --profile out")
			case samples != "":
				if pairs, err = samplePairs(samples); err != nil {
					return err
				}
			case wfFile == "" || profFile == "":
				return fmt.Errorf("flags --workflow and --profile are required (or --samples)")
			default:
				pairs = [][2]string{{wfFile, profFile}}
			}
			var reports []*sim.Report
			var verdicts []sim.Verdict
			// The configurators are judged against the targets of issue 22.
			judged := []string{scheduler.PolicyAquatope, scheduler.PolicyAquatopeStages}
			for _, pair := range pairs {
				rep, err := simTuneOne(cmd.Context(), pair[0], pair[1], qos, opts)
				if err != nil {
					return err
				}
				reports = append(reports, rep)
				for _, name := range judged {
					if v, ok := rep.Judge(name); ok {
						verdicts = append(verdicts, v)
					}
				}
				if out == "table" {
					if err := rep.WriteTable(cmd.OutOrStdout()); err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout())
				}
			}
			if out == "json" {
				if samples == "" {
					return reports[0].WriteJSON(cmd.OutOrStdout())
				}
				return sim.WriteJSONAll(cmd.OutOrStdout(), reports, verdicts)
			}
			if samples == "" {
				return nil
			}
			return writeVerdicts(cmd.OutOrStdout(), verdicts)
		},
	}
	cmd.Flags().StringVar(&wfFile, "workflow", "", "workflow YAML file")
	cmd.Flags().StringVar(&profFile, "profile", "", "profile JSON file (baton profile)")
	cmd.Flags().StringVar(&samples, "samples", "", "run every DIR/NAME.yaml that has DIR/profiles/NAME.json (DIR defaults to dags)")
	cmd.Flags().Lookup("samples").NoOptDefVal = "dags"
	cmd.Flags().StringVar(&policies, "policy", "all", "all, or policy names separated by commas: "+strings.Join(scheduler.PolicyNames(), ","))
	cmd.Flags().IntVar(&opts.Seeds, "seeds", 20, "seeds per policy")
	cmd.Flags().IntVar(&opts.Windows, "windows", 50, "validation windows per seed")
	cmd.Flags().StringVar(&qos, "qos", "binding", "latency target: binding (the tightest static-max meets in 99% of windows), workflow (its own), or a latency such as 470ms (the percentile is the workflow's)")
	cmd.Flags().IntVar(&opts.Budget, "budget", 0, "evaluation budget (default 30 for ≤ 4 stages, else 60)")
	cmd.Flags().Float64Var(&opts.ArrivalsPerMinute, "rate", 0, "invocations a minute: choose resources and pre-warm settings together, with idle cost (0: execution cost only, as before)")
	outputFlag(cmd, &out)
	return cmd
}

// writeVerdicts writes the verdicts' table, when there are any.
func writeVerdicts(w io.Writer, vs []sim.Verdict) error {
	if len(vs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "the configurators against the targets (issue 22):")
	return sim.WriteVerdicts(w, vs)
}

// samplePairs lists dir's workflows that have a profile, as (workflow, profile) files.
func samplePairs(dir string) ([][2]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("flag --samples %s: %w", dir, err)
	}
	slices.Sort(files)
	var pairs [][2]string
	for _, f := range files {
		prof := filepath.Join(dir, "profiles", strings.TrimSuffix(filepath.Base(f), ".yaml")+".json")
		if _, err := os.Stat(prof); err == nil {
			pairs = append(pairs, [2]string{f, prof})
		}
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("flag --samples %s: no NAME.yaml there has a profiles/NAME.json", dir)
	}
	return pairs, nil
}

// simTuneOne reads a workflow and its profile, sets the target as qos
// says and compares the policies.
func simTuneOne(ctx context.Context, wfFile, profFile, qos string, opts sim.TuneOptions) (*sim.Report, error) {
	src, err := os.ReadFile(wfFile)
	if err != nil {
		return nil, fmt.Errorf("flag --workflow: %w", err)
	}
	w, err := workflow.Parse(wfFile, src)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(profFile)
	if err != nil {
		return nil, fmt.Errorf("flag --profile: %w", err)
	}
	p, err := profile.Parse(profFile, data)
	if err != nil {
		return nil, fmt.Errorf("flag --profile: %w", err)
	}
	target, err := scheduler.TargetOf(w)
	if err != nil {
		return nil, err
	}
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		return nil, err
	}
	s, err := sim.New(w, p, scheduler.DefaultPrices())
	if err != nil {
		return nil, fmt.Errorf("flag --profile: %w", err)
	}
	var why string
	switch qos {
	case "workflow":
		why = fmt.Sprintf("the workflow's own (%s)", wfFile)
	case "binding":
		b := sim.BindingTarget(s, space, target.Percentile, 100, 0.01, bindingCheckWindows, 1)
		target, why = b.Target, b.Why()
	default:
		d, err := time.ParseDuration(qos)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("flag --qos %q: want binding, workflow or a positive latency such as 470ms", qos)
		}
		target.LatencyMs = float64(d.Microseconds()) / 1000
		why = "set by --qos"
	}
	rep, err := sim.Tune(ctx, s, space, target, p.Source, opts)
	if err != nil {
		return nil, err
	}
	rep.TargetWhy = why
	return rep, nil
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

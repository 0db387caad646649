package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/tune"
	"baton.dev/baton/workflow"
)

// liveCluster adapts the API client to tune.Cluster.
type liveCluster struct {
	c     *client.Client
	name  string
	input []byte
	w     *workflow.Workflow
}

func (l *liveCluster) Apply(ctx context.Context, cfg scheduler.Config, why tune.Change) error {
	choice := api.Choice{Functions: map[string]api.Resources{}, Policy: why.Policy, Kind: why.Kind, Reason: why.Reason}
	for fn, s := range cfg {
		f := l.w.Spec.Functions[fn]
		if f == nil || (!f.Resources.CPU.Auto && !f.Resources.Memory.Auto) {
			continue // fixed: not the scheduler's to choose
		}
		choice.Functions[fn] = api.Resources{CPUMilli: s.CPUMilli, MemoryBytes: s.MemoryBytes}
	}
	_, err := l.c.Choose(ctx, l.name, choice)
	return err
}

func (l *liveCluster) Invoke(ctx context.Context) (float64, float64, int, error) {
	res, err := l.c.Invoke(ctx, l.name, l.input)
	if err != nil {
		return 0, 0, 0, err
	}
	return res.LatencyMs, res.CostUSD, res.ColdStarts, nil
}

func (l *liveCluster) Record(ctx context.Context, cfg scheduler.Config, latencyMs, costUSD float64) error {
	s := api.SampleRequest{Functions: map[string]api.Resources{}, LatencyMs: latencyMs, CostUSD: costUSD}
	for fn, v := range cfg {
		s.Functions[fn] = api.Resources{CPUMilli: v.CPUMilli, MemoryBytes: v.MemoryBytes}
	}
	return l.c.Sample(ctx, l.name, s)
}

// Completed lists the workflow's latest finished invocations for the
// watcher.
func (l *liveCluster) Completed(ctx context.Context) ([]tune.Completed, error) {
	invs, err := l.c.Invocations(ctx, l.name, 1000)
	if err != nil {
		return nil, err
	}
	out := make([]tune.Completed, 0, len(invs))
	for _, inv := range invs {
		if inv.Status != api.StatusSucceeded && inv.Status != api.StatusFailed {
			continue
		}
		out = append(out, tune.Completed{ID: inv.ID, Start: inv.Start, LatencyMs: inv.LatencyMs, Failed: inv.Status == api.StatusFailed})
	}
	return out, nil
}

// tuneReport is `baton tune -o json`.
type tuneReport struct {
	Result     *tune.Result            `json:"result"`
	Validation map[string]tune.Summary `json:"validation,omitempty"`
	SavingPct  float64                 `json:"savingVsStaticMaxPct,omitempty"`
	QoSMet     *bool                   `json:"qosMet,omitempty"`
}

func tuneCmd() *cobra.Command {
	var (
		opts     tune.Options
		input    string
		validate int
		out      string
		watch    bool
		wopts    tune.WatchOptions
	)
	cmd := &cobra.Command{
		Use:   "tune WORKFLOW",
		Short: "Choose a workflow's auto resources on live sandboxes, apply the best safe configuration, and optionally validate it against static-max",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if watch && (wopts.Window <= 0 || wopts.Misses <= 0 || wopts.Poll <= 0) { // before minutes of tuning
				return fmt.Errorf("flags --watch-window %d, --watch-misses %d, --watch-poll %v: want them positive", wopts.Window, wopts.Misses, wopts.Poll)
			}
			ctx, name := cmd.Context(), args[0]
			c, err := apiClient()
			if err != nil {
				return err
			}
			sum, err := c.Workflow(ctx, name)
			if err != nil {
				return err
			}
			w, err := workflow.Parse(name+".yaml", []byte(sum.Source))
			if err != nil {
				return fmt.Errorf("workflow %s as deployed: %w", name, err)
			}
			body, err := tuneInput(name, input)
			if err != nil {
				return err
			}
			cl := &liveCluster{c: c, name: name, input: body, w: w}
			errw := cmd.ErrOrStderr()
			opts.Progress = func(done, budget int, cfg scheduler.Config, s tune.Summary) {
				fmt.Fprintf(errw, "[%3d/%d] %s  p%g %.0f ms  $%.3g/inv  %d errors\n", done, budget, describe(cfg), w.Spec.QoS.Percentile, s.LatencyMs, s.MeanCostUSD, s.Errors)
			}
			res, err := tune.Run(ctx, w, cl, opts)
			if err != nil {
				return err
			}
			rep := tuneReport{Result: res}
			fmt.Fprintf(errw, "applied %s after %d evaluations in %s\n", describe(res.Best), res.Evaluations, res.Duration.Round(time.Second))
			if validate > 0 {
				if rep.Validation, err = validateTuned(ctx, cl, w, res, validate, errw); err != nil {
					return err
				}
				tuned, max := rep.Validation["tuned"], rep.Validation["static-max"]
				met := float64(tuned.LatencyMs) <= res.Target.LatencyMs && tuned.Errors == 0
				rep.QoSMet = &met
				if max.MeanCostUSD > 0 {
					rep.SavingPct = 100 * (1 - tuned.MeanCostUSD/max.MeanCostUSD)
				}
			}
			if out == "json" {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			wo := cmd.OutOrStdout()
			fmt.Fprintf(wo, "%s: %s chose %s (%d evaluations)\n", name, res.Policy, describe(res.Best), res.Evaluations)
			if rep.Validation != nil {
				for _, k := range []string{"tuned", "static-max"} {
					v := rep.Validation[k]
					fmt.Fprintf(wo, "  %-10s %d invocations: p%g %.0f ms (target %.0f ms), $%.4g per invocation, %d errors\n", k, v.Invocations, res.Target.Percentile, v.LatencyMs, res.Target.LatencyMs, v.MeanCostUSD, v.Errors)
				}
				fmt.Fprintf(wo, "  QoS met: %v; %.1f%% cheaper than static-max\n", *rep.QoSMet, rep.SavingPct)
			}
			if !watch {
				return nil
			}
			return watchTuned(ctx, w, cl, res, opts, wopts, wo)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Policy, "policy", scheduler.PolicyAquatope, "resource policy: "+strings.Join(scheduler.PolicyNames()[:5], ", "))
	f.IntVar(&opts.Budget, "budget", 0, "evaluations at most (default: 30 up to four stages, 60 beyond)")
	f.IntVar(&opts.PerEvaluation, "per-eval", 20, "warm invocations per evaluation")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed of the policy's random choices")
	f.StringVarP(&input, "data", "d", "", "invocation input: JSON, or @FILE (default @dags/WORKFLOW.input.json when it exists, else {})")
	f.IntVar(&validate, "validate", 0, "after tuning, run this many invocations with the tuned configuration and with static-max and compare")
	f.BoolVar(&watch, "watch", false, "after tuning, keep watching the workflow's invocations and tune again when a run of windows misses the QoS (until interrupted)")
	f.IntVar(&wopts.Window, "watch-window", 100, "invocations per watched window")
	f.IntVar(&wopts.Misses, "watch-misses", 3, "missed windows in a row that trigger re-tuning")
	f.DurationVar(&wopts.Poll, "watch-poll", 5*time.Second, "how often the watcher reads the invocations")
	outputFlag(cmd, &out)
	return cmd
}

// watchTuned watches the tuned workflow until the command is interrupted.
func watchTuned(ctx context.Context, w *workflow.Workflow, cl *liveCluster, res *tune.Result, opts tune.Options, wopts tune.WatchOptions, wo io.Writer) error {
	opts.Progress = nil
	wopts.Tune = opts
	wopts.Event = func(ev tune.WatchEvent) {
		verdict := "met"
		if ev.Missed {
			verdict = fmt.Sprintf("MISSED (%d in a row)", ev.InARow)
		}
		fmt.Fprintf(wo, "%s window of %d: p%g %.0f ms, %d failed, target %.0f ms: %s\n", time.Now().Format(time.TimeOnly), wopts.Window, res.Target.Percentile, ev.LatencyMs, ev.Failed, res.Target.LatencyMs, verdict)
		if ev.Retuned != nil {
			fmt.Fprintf(wo, "re-tuned: %s applied after %d evaluations\n", describe(ev.Retuned.Best), ev.Retuned.Evaluations)
		}
	}
	fmt.Fprintf(wo, "watching %s in windows of %d invocations; %d missed in a row re-tune it (Ctrl-C stops)\n", w.Metadata.Name, wopts.Window, wopts.Misses)
	return tune.Watch(ctx, w, cl, cl, time.Now(), wopts)
}

// validateTuned measures the tuned configuration and static-max with n
// invocations each, then leaves the tuned one applied.
func validateTuned(ctx context.Context, cl *liveCluster, w *workflow.Workflow, res *tune.Result, n int, errw io.Writer) (map[string]tune.Summary, error) {
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]tune.Summary{}
	for _, run := range []struct {
		name string
		cfg  scheduler.Config
	}{{"static-max", space.Max()}, {"tuned", res.Best}} {
		if err := cl.Apply(ctx, run.cfg, tune.Change{Policy: res.Policy, Kind: tune.KindValidate, Reason: "validation run: " + run.name}); err != nil {
			return nil, err
		}
		fmt.Fprintf(errw, "validating %s with %d invocations ...\n", run.name, n)
		_, s, err := tune.Measure(ctx, cl, n, res.Target.Percentile)
		if err != nil {
			return nil, fmt.Errorf("validate %s: %w", run.name, err)
		}
		out[run.name] = s
	}
	return out, cl.Apply(ctx, res.Best, tune.Change{Policy: res.Policy, Kind: tune.KindTune, Reason: fmt.Sprintf("validated over %d invocations against static-max", n)})
}

func tuneInput(name, flag string) ([]byte, error) {
	if flag == "" {
		if b, err := os.ReadFile("dags/" + name + ".input.json"); err == nil {
			return b, nil
		}
		return []byte("{}"), nil
	}
	if path, ok := strings.CutPrefix(flag, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("flag -d: %w", err)
		}
		return b, nil
	}
	return []byte(flag), nil
}

// describe prints a configuration compactly: fn=500m/256Mi, ...
func describe(c scheduler.Config) string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%dm/%dMi", n, c[n].CPUMilli, c[n].MemoryBytes>>20))
	}
	return strings.Join(parts, " ")
}

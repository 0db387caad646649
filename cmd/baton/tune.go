package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strconv"
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
	// stages says to read every invocation's stages from its record (for
	// pricing idle, tune.Options.ArrivalsPerMinute, or for a policy that
	// models stages, scheduler.UsesStages).
	stages bool
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

func (l *liveCluster) Invoke(ctx context.Context) (tune.Invocation, error) {
	res, err := l.c.Invoke(ctx, l.name, l.input)
	if err != nil {
		return tune.Invocation{}, err
	}
	inv := tune.Invocation{LatencyMs: res.LatencyMs, CostUSD: res.CostUSD, ColdStarts: res.ColdStarts}
	if !l.stages {
		return inv, nil
	}
	// The record has each stage's calls and measured cold start (the
	// Server-Timing header has neither). A record another replica keeps
	// and history has not written yet is missed: the invocation still
	// counts, without its stages.
	rec, err := l.c.Invocation(ctx, res.InvocationID)
	if err != nil {
		slog.DebugContext(ctx, "an invocation's stages are not readable", "invocation", res.InvocationID, "err", err)
		return inv, nil
	}
	for _, st := range rec.Stages {
		r := tune.StageRun{Stage: st.Stage, Calls: st.Calls, ExecMs: st.ExecMs, Cold: st.Cold,
			LatencyMs: float64(st.End.Sub(st.Start).Microseconds()) / 1000, CostUSD: st.Cost}
		if st.ColdStart != nil {
			// Pulling an image is once per worker, not per cold start.
			r.ColdStartMs = float64((st.ColdStart.Total - st.ColdStart.Pull).Microseconds()) / 1000
		}
		inv.Stages = append(inv.Stages, r)
	}
	return inv, nil
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
		rate     string
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
			perMinute, window, err := parseTuneRate(rate)
			if err != nil {
				return err
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
			errw := cmd.ErrOrStderr()
			if window > 0 {
				if perMinute, err = historyRate(ctx, c, name, window, errw); err != nil {
					return err
				}
			}
			opts.ArrivalsPerMinute = perMinute
			cl := &liveCluster{c: c, name: name, input: body, w: w, stages: perMinute > 0 || scheduler.UsesStages(opts.Policy)}
			opts.Progress = func(done, budget int, cfg scheduler.Config, s tune.Summary) {
				fmt.Fprintf(errw, "[%3d/%d] %s  p%g %.0f ms  $%.3g/inv%s  %d errors\n", done, budget, describe(cfg), w.Spec.QoS.Percentile, s.LatencyMs, s.MeanCostUSD, idleProgress(s.Idle), s.Errors)
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
			if id := res.Idle; id != nil {
				verdict := ""
				if !id.Feasible {
					verdict = ": it cannot meet the QoS"
				}
				fmt.Fprintf(wo, "  at %.3g invocations a minute: $%.4g execution + $%.4g idle = $%.4g per invocation; pre-warm plan's expected violation rate %.2f%% (allowed %.2f%%)%s\n",
					id.ArrivalsPerMinute, id.ExecUSD, id.IdleUSD, id.TotalUSD, 100*id.ViolationRate, 100*id.Allowed, verdict)
			} else if opts.ArrivalsPerMinute > 0 {
				fmt.Fprintf(wo, "  idle not priced: the chosen configuration was not measured (no safe one was)\n")
			}
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
	f.StringVar(&opts.Policy, "policy", scheduler.PolicyAquatope, "resource policy: "+strings.Join(scheduler.LivePolicyNames(), ", "))
	f.IntVar(&opts.Budget, "budget", 0, "evaluations at most (default: 30 up to four stages, 60 beyond)")
	f.IntVar(&opts.PerEvaluation, "per-eval", 20, "warm invocations per evaluation")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed of the policy's random choices")
	f.StringVarP(&input, "data", "d", "", "invocation input: JSON, or @FILE (default @dags/WORKFLOW.input.json when it exists, else {})")
	f.IntVar(&validate, "validate", 0, "after tuning, run this many invocations with the tuned configuration and with static-max and compare")
	f.BoolVar(&watch, "watch", false, "after tuning, keep watching the workflow's invocations and tune again when a run of windows misses the QoS (until interrupted)")
	f.IntVar(&wopts.Window, "watch-window", 100, "invocations per watched window")
	f.IntVar(&wopts.Misses, "watch-misses", 3, "missed windows in a row that trigger re-tuning")
	f.DurationVar(&wopts.Poll, "watch-poll", 5*time.Second, "how often the watcher reads the invocations")
	f.StringVar(&rate, "rate", "", "invocations a minute: choose resources and pre-warm settings together, pricing the idle of each configuration's pre-warm plan; or history[:WINDOW], the rate over the last WINDOW (default 24h) of the workflow's history (default: execution cost only)")
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

// parseTuneRate reads --rate: "" or 0 (idle not priced), invocations a
// minute, or history[:WINDOW] (window > 0: measure the rate over it).
func parseTuneRate(v string) (perMinute float64, window time.Duration, err error) {
	if v == "" {
		return 0, 0, nil
	}
	if rest, ok := strings.CutPrefix(v, "history"); ok {
		if rest == "" {
			return 0, 24 * time.Hour, nil
		}
		if d, ok := strings.CutPrefix(rest, ":"); ok {
			if window, err = time.ParseDuration(d); err == nil && window > 0 {
				return 0, window, nil
			}
		}
		return 0, 0, fmt.Errorf("flag --rate %q: want history or history:WINDOW, WINDOW a positive duration such as 6h", v)
	}
	perMinute, err = strconv.ParseFloat(v, 64)
	if err != nil || !(perMinute >= 0) || math.IsInf(perMinute, 0) {
		return 0, 0, fmt.Errorf("flag --rate %q: want invocations a minute (a number ≥ 0; 0: execution cost only) or history[:WINDOW]", v)
	}
	return perMinute, 0, nil
}

// historyRate is the workflow's invocations a minute over the last window
// of the orchestrator's history; an error when there is no history or no
// invocation in it.
func historyRate(ctx context.Context, c *client.Client, name string, window time.Duration, errw io.Writer) (float64, error) {
	rep, err := c.Reports(ctx, name, window.String())
	if err != nil {
		return 0, fmt.Errorf("flag --rate history: %w", err)
	}
	if rep.History != "on" {
		return 0, fmt.Errorf("flag --rate history: the orchestrator keeps no history (%s): give --rate N invocations a minute", rep.Message)
	}
	n := 0
	for _, wr := range rep.Workflows {
		if wr.Name == name && wr.Figures != nil {
			n = wr.Figures.Invocations
		}
	}
	minutes := rep.Until.Sub(rep.Since).Minutes()
	if n == 0 || !(minutes > 0) {
		return 0, fmt.Errorf("flag --rate history: no invocation of %s in the last %s of history: give --rate N invocations a minute", name, window)
	}
	perMinute := float64(n) / minutes
	fmt.Fprintf(errw, "arrival rate %.3g invocations a minute: %d invocations of %s in the last %s of history (earlier tuning's own count too)\n", perMinute, n, name, shortWindow(window))
	return perMinute, nil
}

// shortWindow writes d without its zero trailing units: 24h, 1h30m, 10m.
func shortWindow(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// idleProgress is an evaluation's idle cost for the progress line ("" when
// idle is not priced).
func idleProgress(id *tune.IdleCost) string {
	if id == nil {
		return ""
	}
	verdict := ""
	if !id.Feasible {
		verdict = ", cannot meet the QoS"
	}
	return fmt.Sprintf(" + idle $%.3g = $%.3g/inv (plan: %.2f%% late%s)", id.IdleUSD, id.TotalUSD, 100*id.ViolationRate, verdict)
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

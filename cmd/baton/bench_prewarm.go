package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/stats"
	"baton.dev/baton/scheduler/trace"
)

// prewarmBenchReport is what `baton bench prewarm` measured.
type prewarmBenchReport struct {
	Trace     string   `json:"trace"`
	Functions []string `json:"functions"`
	Minutes   int      `json:"minutes"`
	// Speedup is how many trace seconds one live second replays.
	Speedup     float64             `json:"speedup"`
	Invocations int                 `json:"invocations"`
	Policies    []prewarmBenchScore `json:"policies"`
	Load        string              `json:"load,omitempty"`
}

// prewarmBenchScore is one policy measured live.
type prewarmBenchScore struct {
	Policy      string  `json:"policy"`
	Invocations int     `json:"invocations"`
	Cold        int     `json:"cold"`
	Errors      int     `json:"errors"`
	ColdPct     float64 `json:"coldPct"`
	// IdleSandboxSeconds is live idle sandbox-seconds times the speedup:
	// in the trace's time, comparable with `baton sim prewarm`.
	IdleSandboxSeconds float64 `json:"idleSandboxSeconds"`
	P99Ms              float64 `json:"p99Ms"`
	UsPerDecision      float64 `json:"usPerDecision"`
	FirstError         string  `json:"firstError,omitempty"`
}

// scaledPrewarmPolicy is the policy named name with its times divided by
// speedup, so that a replay at speedup× keeps its decisions in trace time.
func scaledPrewarmPolicy(name string, speedup float64) (prewarm.PrewarmPolicy, error) {
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / speedup) }
	switch name {
	case "aquatope", "aquatope-nochain":
		var a prewarm.Aquatope
		a.Chain = name == "aquatope"
		a.KeepAlive = scale(prewarm.AquatopeKeepAlive)
		a.Forecast.IntervalsPerDay = 24 * 60 // the trace's minutes, not the live intervals
		return a, nil
	case "hybrid-histogram", "none":
		return prewarm.New(name) // decides in intervals: scaled with them
	}
	if strings.HasPrefix(name, "keepalive-") {
		p, err := prewarm.New(name)
		if err != nil {
			return nil, err
		}
		return prewarm.KeepAlive{Duration: scale(p.(prewarm.KeepAlive).Duration)}, nil
	}
	return nil, fmt.Errorf("pre-warm policy %q cannot run live: want aquatope, aquatope-nochain, keepalive-DURATION, hybrid-histogram or none", name)
}

// pickPrewarmFunctions chooses up to n functions with between lo and hi
// invocations in the first minutes of tr, spread over that range.
func pickPrewarmFunctions(tr *trace.Trace, minutes, n, lo, hi int) []*trace.Function {
	type cand struct {
		f     *trace.Function
		count int
	}
	var cands []cand
	for i := range tr.Functions {
		f := &tr.Functions[i]
		c := 0
		for _, inv := range f.Invocations {
			if inv.Start < float64(minutes*60) {
				c++
			}
		}
		if c >= lo && c <= hi {
			cands = append(cands, cand{f, c})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].count > cands[j].count })
	if len(cands) <= n {
		out := make([]*trace.Function, len(cands))
		for i, c := range cands {
			out[i] = c.f
		}
		return out
	}
	out := make([]*trace.Function, 0, n)
	for k := range n {
		out = append(out, cands[k*len(cands)/n].f)
	}
	return out
}

// replayArrival is one invocation to replay, at live offset at.
type replayArrival struct {
	at time.Duration
	fn int
}

func benchPrewarmCmd() *cobra.Command {
	var (
		lo                         localOptions
		traceArg, policies, out    string
		functions, minutes, picked int
		speedup                    float64
		seed                       uint64
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
			if speedup < 1 {
				return fmt.Errorf("flag --speedup %g: want ≥ 1", speedup)
			}
			for _, c := range []struct {
				flag string
				n    int
			}{{"--minutes", minutes}, {"--pick", picked}, {"--functions", functions}} {
				if c.n <= 0 {
					return fmt.Errorf("flag %s %d: want > 0", c.flag, c.n)
				}
			}
			var names []string
			for _, n := range strings.Split(policies, ",") {
				if n = strings.TrimSpace(n); n != "" {
					if _, err := scaledPrewarmPolicy(n, speedup); err != nil {
						return fmt.Errorf("flag --policy: %w", err)
					}
					names = append(names, n)
				}
			}
			tr, err := loadTrace(traceArg, functions, minutes, seed)
			if err != nil {
				return err
			}
			// Between one invocation every few minutes and one every two
			// seconds: what one 2-core machine can replay speeded up.
			fns := pickPrewarmFunctions(tr, minutes, picked, 3, minutes*30)
			if len(fns) == 0 {
				return fmt.Errorf("no function of the trace has between 3 and %d invocations in %d minutes", minutes*30, minutes)
			}
			var arrivals []replayArrival
			rep := prewarmBenchReport{Trace: tr.Source, Minutes: minutes, Speedup: speedup}
			for i, f := range fns {
				rep.Functions = append(rep.Functions, f.Name)
				for _, inv := range f.Invocations {
					if inv.Start < float64(minutes*60) {
						arrivals = append(arrivals, replayArrival{at: time.Duration(inv.Start / speedup * float64(time.Second)), fn: i})
					}
				}
			}
			sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].at < arrivals[j].at })
			rep.Invocations = len(arrivals)
			errw := cmd.ErrOrStderr()
			fmt.Fprintf(errw, "replaying %d invocations of %d functions (%d trace minutes in %s) under %s\n",
				len(arrivals), len(fns), minutes, time.Duration(float64(minutes)*60/speedup*float64(time.Second)).Round(time.Second), strings.Join(names, ", "))
			for _, name := range names {
				score, err := replayPrewarm(cmd.Context(), lo, name, speedup, fns, arrivals)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				fmt.Fprintf(errw, "%s: %d invocations, %.1f%% cold, %.0f idle sandbox-s\n", name, score.Invocations, score.ColdPct, score.IdleSandboxSeconds)
				rep.Policies = append(rep.Policies, score)
			}
			rep.Load = loadAverage()
			if out == "json" {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			writePrewarmBench(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	lo.flags(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&traceArg, "trace", "synthetic", "trace directory (Azure Functions 2019 or 2021 format), or synthetic")
	f.IntVar(&functions, "functions", 200, "functions of the trace to choose from (a sample of a real trace)")
	f.IntVar(&picked, "pick", 8, "functions to replay, spread over the trace's invocation counts")
	f.IntVar(&minutes, "minutes", 30, "minutes of the trace to replay")
	f.Float64Var(&speedup, "speedup", 10, "trace seconds replayed per live second")
	f.StringVar(&policies, "policy", "aquatope,keepalive-10m,hybrid-histogram", "policies to replay, separated by commas")
	f.Uint64Var(&seed, "seed", 1, "seed of the synthetic trace and of the sample")
	outputFlag(cmd, &out)
	return cmd
}

// replayPrewarm runs the arrivals against a fresh Baton under one policy.
func replayPrewarm(ctx context.Context, lo localOptions, policy string, speedup float64, fns []*trace.Function, arrivals []replayArrival) (prewarmBenchScore, error) {
	score := prewarmBenchScore{Policy: policy}
	pol, err := scaledPrewarmPolicy(policy, speedup)
	if err != nil {
		return score, err
	}
	live, err := prewarm.NewLive(pol, prewarm.LiveOptions{Interval: time.Duration(float64(time.Minute) / speedup)})
	if err != nil {
		return score, err
	}
	b, err := startLocal(ctx, lo, time.Duration(float64(time.Minute)/speedup), live)
	if err != nil {
		return score, err
	}
	defer func() {
		if err := b.stop(); err != nil {
			b.log.Error("stop the benchmark's Baton", "err", err)
		}
	}()
	for i, f := range fns {
		delay := time.Duration(float64(f.MeanDuration()) / speedup).Round(time.Millisecond)
		doc := fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: fn%d}
spec:
  functions:
    f:
      image: %s
      resources: {cpu: 250m, memory: 64Mi}
      env: {BATON_TESTFN_DELAY: %s}
  stages:
    - {name: s, function: f, timeout: 120s}
`, i, benchImage, delay)
		if _, err := b.api.Deploy(ctx, fmt.Sprintf("fn%d.yaml", i), []byte(doc)); err != nil {
			return score, err
		}
	}
	var (
		mu   sync.Mutex
		lat  []float64
		wg   sync.WaitGroup
		idle float64
	)
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		const every = 100 * time.Millisecond
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
			n := 0
			for _, ps := range b.cl.Orchestrator.PoolStates() {
				n += len(ps.Idle)
			}
			idle += float64(n) * every.Seconds()
		}
	}()
	start := time.Now()
	for _, a := range arrivals {
		if d := time.Until(start.Add(a.at)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				stopSampling()
				wg.Wait()
				return score, ctx.Err()
			}
		}
		wg.Add(1)
		go func(fn int) {
			defer wg.Done()
			t0 := time.Now()
			res, err := b.api.Invoke(ctx, fmt.Sprintf("fn%d", fn), []byte(`{}`))
			mu.Lock()
			defer mu.Unlock()
			score.Invocations++
			if err != nil {
				score.Errors++
				if score.FirstError == "" {
					score.FirstError = err.Error()
				}
				return
			}
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
			if res.ColdStarts > 0 {
				score.Cold++
			}
		}(a.fn)
	}
	wg.Wait()
	stopSampling()
	<-sampled
	score.IdleSandboxSeconds = idle * speedup
	if score.Invocations > 0 {
		score.ColdPct = 100 * float64(score.Cold) / float64(score.Invocations)
	}
	if len(lat) > 0 {
		score.P99Ms = stats.Percentile(lat, 99)
	}
	if n, spent := live.Spent(); n > 0 {
		score.UsPerDecision = float64(spent.Microseconds()) / float64(n)
	}
	return score, nil
}

func writePrewarmBench(w io.Writer, rep prewarmBenchReport) {
	fmt.Fprintf(w, "trace %s: %d functions, %d minutes replayed at %g×, %d invocations\n\n", rep.Trace, len(rep.Functions), rep.Minutes, rep.Speedup, rep.Invocations)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POLICY\tINVOCATIONS\tCOLD%\tIDLE SANDBOX-S\tP99 MS\tUS/DECISION\tERRORS\t")
	for _, p := range rep.Policies {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.0f\t%.1f\t%d\t\n", p.Policy, p.Invocations, p.ColdPct, p.IdleSandboxSeconds, p.P99Ms, p.UsPerDecision, p.Errors)
	}
	tw.Flush()
	if rep.Load != "" {
		fmt.Fprintf(w, "\nload average: %s\n", rep.Load)
	}
}

package bench

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"baton.dev/baton/backoff"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/stats"
	"baton.dev/baton/scheduler/trace"
)

// PrewarmOptions configures RunPrewarm.
type PrewarmOptions struct {
	// Local is the Baton to start, afresh for every policy.
	Local LocalOptions
	// Trace is the trace to replay the first Minutes of, for Pick of its
	// functions spread over their invocation counts.
	Trace   *trace.Trace
	Minutes int
	Pick    int
	// Speedup is how many trace seconds one live second replays (≥ 1).
	Speedup float64
	// Policies are the pre-warm policies to replay under, in turn; each
	// must be one ScaledPrewarmPolicy accepts.
	Policies []string
	// Progress receives a line before the replays and one after each
	// (nil: discarded).
	Progress io.Writer
}

// PrewarmReport is what RunPrewarm measured.
type PrewarmReport struct {
	// Trace is where the trace came from, Functions the ones replayed,
	// Minutes the trace minutes replayed.
	Trace     string   `json:"trace"`
	Functions []string `json:"functions"`
	Minutes   int      `json:"minutes"`
	// Speedup is how many trace seconds one live second replays.
	Speedup float64 `json:"speedup"`
	// Invocations is how many invocations each policy's replay makes.
	Invocations int `json:"invocations"`
	// Policies is each policy's score, in the order replayed.
	Policies []PrewarmScore `json:"policies"`
	// Load is the machine's load average after the replays.
	Load string `json:"load,omitempty"`
}

// PrewarmScore is one policy measured live.
type PrewarmScore struct {
	// Policy is the policy's name.
	Policy string `json:"policy"`
	// Invocations counts the invocations made, Cold those that waited for
	// a cold start (ColdPct of them), Errors those that failed.
	Invocations int     `json:"invocations"`
	Cold        int     `json:"cold"`
	Errors      int     `json:"errors"`
	ColdPct     float64 `json:"coldPct"`
	// IdleSandboxSeconds is live idle sandbox-seconds times the speedup:
	// in the trace's time, comparable with `baton sim prewarm`.
	IdleSandboxSeconds float64 `json:"idleSandboxSeconds"`
	// P99Ms is the successful invocations' 99th percentile latency.
	P99Ms float64 `json:"p99Ms"`
	// UsPerDecision is the live planner's time per decision.
	UsPerDecision float64 `json:"usPerDecision"`
	// FirstError is the first failure's message, if any.
	FirstError string `json:"firstError,omitempty"`
}

// ScaledPrewarmPolicy is the policy named name with its times divided by
// speedup, so that a replay at speedup× keeps its decisions in trace
// time. The policies that can run live are aquatope, aquatope-nochain,
// keepalive-DURATION, hybrid-histogram and none.
func ScaledPrewarmPolicy(name string, speedup float64) (prewarm.PrewarmPolicy, error) {
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / speedup) }
	switch name {
	case "aquatope", "aquatope-nochain":
		var a prewarm.Aquatope
		a.Chain = name == "aquatope"
		a.KeepAlive = scale(prewarm.AquatopeKeepAlive)
		a.ColdStartCost = scale(prewarm.AquatopeColdStartCost)
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

// RunPrewarm replays the first opts.Minutes of opts.Trace for a few of its
// functions against a standalone Baton, once per policy, speeded up: one
// live second replays opts.Speedup trace seconds, and the policies'
// intervals and keep-alives are scaled with it (cold starts are not: they
// are real). Each function is a one-stage workflow of the echo test
// function answering after its mean duration, scaled. The functions are
// those with between 3 invocations and one every two seconds: what one
// 2-core machine can replay speeded up.
func RunPrewarm(ctx context.Context, opts PrewarmOptions) (*PrewarmReport, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	minutes, speedup := opts.Minutes, opts.Speedup
	fns := pickPrewarmFunctions(opts.Trace, minutes, opts.Pick, 3, minutes*30)
	if len(fns) == 0 {
		return nil, fmt.Errorf("no function of the trace has between 3 and %d invocations in %d minutes", minutes*30, minutes)
	}
	var arrivals []replayArrival
	rep := &PrewarmReport{Trace: opts.Trace.Source, Minutes: minutes, Speedup: speedup}
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
	fmt.Fprintf(progress, "replaying %d invocations of %d functions (%d trace minutes in %s) under %s\n",
		len(arrivals), len(fns), minutes, time.Duration(float64(minutes)*60/speedup*float64(time.Second)).Round(time.Second), strings.Join(opts.Policies, ", "))
	for _, name := range opts.Policies {
		score, err := replayPrewarm(ctx, opts.Local, name, speedup, fns, arrivals)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(progress, "%s: %d invocations, %.1f%% cold, %.0f idle sandbox-s\n", name, score.Invocations, score.ColdPct, score.IdleSandboxSeconds)
		rep.Policies = append(rep.Policies, score)
	}
	rep.Load = loadAverage()
	return rep, nil
}

// replayPrewarm runs the arrivals against a fresh Baton under one policy.
func replayPrewarm(ctx context.Context, lo LocalOptions, policy string, speedup float64, fns []*trace.Function, arrivals []replayArrival) (PrewarmScore, error) {
	score := PrewarmScore{Policy: policy}
	pol, err := ScaledPrewarmPolicy(policy, speedup)
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
	defer b.stopOrLog()
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
`, i, echoImage, delay)
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
		if backoff.Sleep(ctx, time.Until(start.Add(a.at))) != nil {
			stopSampling()
			wg.Wait()
			return score, ctx.Err()
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

// WriteTable prints the report as a table, one policy a row, with the
// machine's load average.
func (r *PrewarmReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "trace %s: %d functions, %d minutes replayed at %g×, %d invocations\n\n", r.Trace, len(r.Functions), r.Minutes, r.Speedup, r.Invocations)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POLICY\tINVOCATIONS\tCOLD%\tIDLE SANDBOX-S\tP99 MS\tUS/DECISION\tERRORS\t")
	for _, p := range r.Policies {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.0f\t%.1f\t%d\t\n", p.Policy, p.Invocations, p.ColdPct, p.IdleSandboxSeconds, p.P99Ms, p.UsPerDecision, p.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Load != "" {
		if _, err := fmt.Fprintf(w, "\nload average: %s\n", r.Load); err != nil {
			return err
		}
	}
	return nil
}

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"baton.dev/baton/backoff"
	"baton.dev/baton/internal/simcluster"
	"baton.dev/baton/orchestrator/client"
)

// OverloadOptions configure RunOverload.
type OverloadOptions struct {
	Local LocalOptions
	// Sandboxes is the worker's room, in sandboxes of the echo function
	// (128 MiB each: the worker offers that much memory); Delay is each
	// call's time. Capacity is Sandboxes/Delay calls per second.
	Sandboxes int
	Delay     time.Duration
	// Loads are the offered loads, in multiples of the capacity; Step is
	// how long each is offered.
	Loads []float64
	Step  time.Duration
	// MaxQueue and MaxQueueWait bound each function's queue.
	MaxQueue     int
	MaxQueueWait time.Duration
	// ClientArgs, when not nil, runs each tenant's load in a child
	// process started with these arguments (which must lead to
	// ServeOverloadLoad), so that the peaks measured are Baton's alone.
	// Nil runs the load in this process.
	ClientArgs []string
}

// OverloadLoad is one tenant's load in a step: Rate calls per second to
// its workflow, open loop, for Duration. A child process reads it as JSON
// on its standard input (ServeOverloadLoad).
type OverloadLoad struct {
	URL      string        `json:"url"`
	Token    string        `json:"token"`
	Workflow string        `json:"workflow"`
	Rate     float64       `json:"rate"`
	Duration time.Duration `json:"duration"`
}

// ServeOverloadLoad is the child's side of OverloadOptions.ClientArgs: it
// reads an OverloadLoad as JSON from stdin, offers it and writes its
// OverloadStep (with its own peak of calls in flight) to stdout.
func ServeOverloadLoad(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var l OverloadLoad
	if err := decodeChildInput(stdin, &l); err != nil {
		return err
	}
	if l.URL == "" || l.Workflow == "" || l.Rate <= 0 || l.Duration <= 0 {
		return errors.New("load on stdin: url, workflow, a positive rate and a positive duration are required")
	}
	var inFlight, peak atomic.Int64
	st := offer(ctx, &client.Client{URL: l.URL, Token: l.Token, HTTP: newHTTPClient()}, l.Workflow, l.Rate, l.Duration, &inFlight, &peak)
	st.PeakInFlight = peak.Load()
	if err := ctx.Err(); err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(st)
}

// OverloadStep is one offered load's outcome.
type OverloadStep struct {
	// Tenants is 1, or 2 when a second tenant sent SteadyLoad meanwhile.
	Tenants int     `json:"tenants"`
	Load    float64 `json:"load"`    // offered, in multiples of capacity
	Offered float64 `json:"offered"` // calls per second
	Sent    int     `json:"sent"`
	Served  int     `json:"served"`
	// Refused were refused with 503 or 429 and a Retry-After; Failed
	// failed any other way (a timeout, an error).
	Refused int `json:"refused"`
	Failed  int `json:"failed"`
	// Goodput is served calls per second; Latency the served calls'.
	Goodput float64            `json:"goodput"`
	Latency simcluster.Latency `json:"latency"`
	// Steady is the second tenant's outcome, with two tenants.
	Steady *OverloadStep `json:"steady,omitempty"`
	// PeakRSSBytes and PeakGoroutines are the bench process's during the
	// step: Baton's orchestrator, NATS and worker daemon, and the load's
	// client unless it ran in child processes (OverloadOptions.ClientArgs);
	// PeakInFlight the client's calls in flight.
	PeakRSSBytes   int64 `json:"peakRssBytes"`
	PeakGoroutines int   `json:"peakGoroutines"`
	PeakInFlight   int64 `json:"peakInFlight"`
	// LogLines is what Baton logged at Info and above during the step,
	// LogLinesPerMinute the same per minute.
	LogLines          int     `json:"logLines"`
	LogLinesPerMinute float64 `json:"logLinesPerMinute"`
	FirstFailure      string  `json:"firstFailure,omitempty"`
}

// OverloadReport is `baton bench overload`'s result.
type OverloadReport struct {
	Runtime string `json:"runtime"`
	// ClientProcess: the load's clients ran in processes of their own,
	// so the peaks are Baton's alone.
	ClientProcess bool           `json:"clientProcess"`
	Capacity      float64        `json:"capacity"` // calls per second
	Sandboxes     int            `json:"sandboxes"`
	DelayMs       float64        `json:"delayMs"`
	MaxQueue      int            `json:"maxQueue"`
	MaxQueueWait  string         `json:"maxQueueWait"`
	Steps         []OverloadStep `json:"steps"`
	// Collapse is the one-tenant goodput at the highest load over the
	// goodput at 1x (target >= 0.9: no collapse).
	Collapse float64 `json:"collapse"`
	// SteadyAlone and SteadyUnderFlood are the second tenant's steady
	// calls alone and beside the first tenant at the highest load;
	// IsolationP50 and IsolationP99 their ratios (target p99 <= 1.5).
	SteadyAlone      *OverloadStep `json:"steadyAlone,omitempty"`
	SteadyUnderFlood *OverloadStep `json:"steadyUnderFlood,omitempty"`
	IsolationP50     float64       `json:"isolationP50"`
	IsolationP99     float64       `json:"isolationP99"`
}

// steadyLoad is the second tenant's load, in multiples of capacity.
const steadyLoad = 0.2

// RunOverload starts Baton with one worker holding opts.Sandboxes
// sandboxes of the echo function answering after opts.Delay, and offers
// each of opts.Loads for opts.Step, open loop, from one tenant; then a
// second tenant's steady load alone, and beside the first tenant at the
// highest load.
func RunOverload(ctx context.Context, opts OverloadOptions) (*OverloadReport, error) {
	if opts.Sandboxes < 1 || opts.Delay <= 0 || opts.Step <= 0 || len(opts.Loads) == 0 {
		return nil, errors.New("overload: want --sandboxes >= 1, --delay > 0, --step > 0 and some --loads")
	}
	lines := &lineCounter{w: io.Discard}
	if opts.Local.Verbose {
		lines.w = os.Stderr
	}
	opts.Local.logTo = lines
	opts.Local.workerMemory = int64(opts.Sandboxes) * 128 << 20
	opts.Local.queue.max, opts.Local.queue.wait = opts.MaxQueue, opts.MaxQueueWait
	b, err := startLocal(ctx, opts.Local, time.Minute, nil)
	if err != nil {
		return nil, err
	}
	defer b.stopOrLog()
	capacity := float64(opts.Sandboxes) / opts.Delay.Seconds()
	rep := &OverloadReport{Runtime: opts.Local.Runtime, ClientProcess: opts.ClientArgs != nil, Capacity: capacity, Sandboxes: opts.Sandboxes,
		DelayMs: float64(opts.Delay) / float64(time.Millisecond), MaxQueue: opts.MaxQueue, MaxQueueWait: opts.MaxQueueWait.String()}

	admin := &client.Client{URL: b.cl.URL, Token: b.cl.AdminToken}
	hc := newHTTPClient()
	tenants := map[string]*client.Client{}
	// load offers one tenant's calls, in this process or in a child.
	load := func(tenant string, rate float64, d time.Duration, inFlight, peak *atomic.Int64) OverloadStep {
		c := tenants[tenant]
		if opts.ClientArgs == nil {
			return offer(ctx, c, "w", rate, d, inFlight, peak)
		}
		var st OverloadStep
		if err := runChild(ctx, opts.ClientArgs, OverloadLoad{URL: c.URL, Token: c.Token, Workflow: "w", Rate: rate, Duration: d}, &st); err != nil {
			st.Failed, st.FirstFailure = 1, err.Error()
		}
		peak.Add(st.PeakInFlight)
		return st
	}
	env := fmt.Sprintf("{BATON_TESTFN_DELAY: %s}", opts.Delay)
	for _, name := range []string{"flood", "steady"} {
		tv, err := admin.CreateTenant(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("overload: tenant %s: %w", name, err)
		}
		c := &client.Client{URL: b.cl.URL, Token: tv.Key, HTTP: hc}
		if _, err := c.Deploy(ctx, "w.yaml", []byte(echoWorkflow("w", echoImage, env))); err != nil {
			return nil, fmt.Errorf("overload: deploy for %s: %w", name, err)
		}
		tenants[name] = c
	}
	// Warm-up, not measured: the worker's room filled once.
	_ = offer(ctx, tenants["flood"], "w", capacity, opts.Step/2, nil, nil)

	var atOne, atMax float64
	top := opts.Loads[len(opts.Loads)-1]
	for _, x := range opts.Loads {
		st := measure(ctx, lines, opts.Step, func(inFlight, peak *atomic.Int64) []OverloadStep {
			return []OverloadStep{load("flood", x*capacity, opts.Step, inFlight, peak)}
		})
		st[0].Tenants, st[0].Load = 1, x
		rep.Steps = append(rep.Steps, st[0])
		if x == 1 {
			atOne = st[0].Goodput
		}
		if x == top {
			atMax = st[0].Goodput
		}
		if err := settle(ctx, b, opts.Step); err != nil {
			return nil, err
		}
	}
	if atOne > 0 {
		rep.Collapse = atMax / atOne
	}

	// The second tenant's sandbox warm in both of its runs, so they
	// compare like with like.
	if _, err := tenants["steady"].Invoke(ctx, "w", []byte(`{}`)); err != nil {
		return nil, fmt.Errorf("overload: warm the second tenant's sandbox: %w", err)
	}
	alone := measure(ctx, lines, opts.Step, func(inFlight, peak *atomic.Int64) []OverloadStep {
		return []OverloadStep{load("steady", steadyLoad*capacity, opts.Step, inFlight, peak)}
	})[0]
	alone.Tenants, alone.Load = 1, steadyLoad
	rep.SteadyAlone = &alone
	if err := settle(ctx, b, opts.Step); err != nil {
		return nil, err
	}
	both := measure(ctx, lines, opts.Step, func(inFlight, peak *atomic.Int64) []OverloadStep {
		var flood, steady OverloadStep
		var wg sync.WaitGroup
		wg.Go(func() { flood = load("flood", top*capacity, opts.Step, inFlight, peak) })
		wg.Go(func() { steady = load("steady", steadyLoad*capacity, opts.Step, inFlight, peak) })
		wg.Wait()
		return []OverloadStep{flood, steady}
	})
	both[0].Tenants, both[0].Load = 2, top
	both[1].Tenants, both[1].Load = 2, steadyLoad
	both[0].Steady = &both[1]
	rep.Steps = append(rep.Steps, both[0])
	rep.SteadyUnderFlood = &both[1]
	if alone.Latency.P50Ms > 0 && alone.Latency.P99Ms > 0 {
		rep.IsolationP50 = both[1].Latency.P50Ms / alone.Latency.P50Ms
		rep.IsolationP99 = both[1].Latency.P99Ms / alone.Latency.P99Ms
	}
	return rep, nil
}

// settle waits until no request is queued and the queues have drained,
// so each step starts alike.
func settle(ctx context.Context, b *localBaton, within time.Duration) error {
	waiting := 0
	err := waitFor(ctx, within+time.Minute, func() bool {
		waiting = 0
		for _, p := range b.cl.Orchestrator.PoolStates() {
			waiting += p.Waiting + p.Busy
		}
		return waiting == 0
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("overload: %d calls still queued or running a minute after a step", waiting)
	}
	return err
}

// measure runs load and fills in the process's peaks and the log lines
// written meanwhile for each step it returns.
func measure(ctx context.Context, lines *lineCounter, d time.Duration, load func(inFlight, peak *atomic.Int64) []OverloadStep) []OverloadStep {
	var inFlight atomic.Int64
	var peakRSS, peakG, peakIn atomic.Int64 // peakIn: the load's own, or children's summed
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := processRSS(); rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			if g := int64(runtime.NumGoroutine()); g > peakG.Load() {
				peakG.Store(g)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	before := lines.n.Load()
	start := time.Now()
	steps := load(&inFlight, &peakIn)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	logged := int(lines.n.Load() - before)
	for i := range steps {
		steps[i].PeakRSSBytes, steps[i].PeakGoroutines, steps[i].PeakInFlight = peakRSS.Load(), int(peakG.Load()), peakIn.Load()
		steps[i].LogLines = logged
		steps[i].LogLinesPerMinute = float64(logged) / elapsed.Minutes()
	}
	return steps
}

// offer invokes c's workflow w at rate calls per second, open loop, for
// d, and sorts the outcomes: served, refused with a Retry-After (503 or
// 429), failed otherwise.
func offer(ctx context.Context, c *client.Client, workflow string, rate float64, d time.Duration, inFlight, peak *atomic.Int64) OverloadStep {
	var mu sync.Mutex
	var st OverloadStep
	var served []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	n := int(rate * d.Seconds())
	for i := range n {
		if backoff.Sleep(ctx, time.Until(start.Add(time.Duration(float64(i)/rate*float64(time.Second))))) != nil {
			break
		}
		wg.Go(func() {
			if inFlight != nil {
				if n := inFlight.Add(1); n > peak.Load() {
					peak.Store(n) // racy max: a peak, not an exact count
				}
				defer inFlight.Add(-1)
			}
			t := time.Now()
			_, err := c.Invoke(ctx, workflow, []byte(`{}`))
			took := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			st.Sent++
			var ce *client.Error
			switch {
			case err == nil:
				served = append(served, took)
			case errors.As(err, &ce) && (ce.Status == http.StatusServiceUnavailable || ce.Status == http.StatusTooManyRequests) && ce.RetryAfter > 0:
				st.Refused++
			default:
				st.Failed++
				if st.FirstFailure == "" {
					st.FirstFailure = err.Error()
				}
			}
		})
	}
	wg.Wait()
	st.Offered = rate
	st.Served = len(served)
	st.Goodput = float64(len(served)) / time.Since(start).Seconds()
	st.Latency = simcluster.Summarize(served)
	return st
}

// lineCounter counts the lines written through it.
type lineCounter struct {
	w io.Writer
	n atomic.Int64
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n.Add(int64(bytes.Count(p, []byte{'\n'})))
	return l.w.Write(p)
}

// processRSS is this process's resident memory, from /proc (0 when it
// cannot be read).
func processRSS() int64 { return simcluster.ProcStatusBytes("VmRSS:") }

// WriteTable prints the report: a row per load, the collapse ratio and
// the two tenants' isolation.
func (r *OverloadReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "overload: %s runtime, one worker holding %d sandboxes of a %.0f ms call (capacity %.0f calls/s), queue bounds %d requests and %s\n\n",
		r.Runtime, r.Sandboxes, r.DelayMs, r.Capacity, r.MaxQueue, r.MaxQueueWait)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANTS\tLOAD\tOFFERED/s\tSENT\tSERVED\tREFUSED\tFAILED\tGOODPUT/s\tP50 ms\tP99 ms\tPEAK RSS MiB\tPEAK GOROUTINES\tLOG LINES/min")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%d\t%.1fx\t%.0f\t%d\t%d\t%d\t%d\t%.1f\t%.0f\t%.0f\t%d\t%d\t%.0f\n", s.Tenants, s.Load, s.Offered, s.Sent, s.Served, s.Refused, s.Failed,
			s.Goodput, s.Latency.P50Ms, s.Latency.P99Ms, s.PeakRSSBytes>>20, s.PeakGoroutines, s.LogLinesPerMinute)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ngoodput at the highest load over goodput at 1x: %.2f (target >= 0.9)\n", r.Collapse)
	if r.SteadyAlone != nil && r.SteadyUnderFlood != nil {
		fmt.Fprintf(w, "second tenant at %.1fx: p50 %.0f ms, p99 %.0f ms alone; p50 %.0f ms, p99 %.0f ms beside the flood (ratios %.2f, %.2f; target p99 <= 1.5); %d refused, %d failed\n",
			steadyLoad, r.SteadyAlone.Latency.P50Ms, r.SteadyAlone.Latency.P99Ms, r.SteadyUnderFlood.Latency.P50Ms, r.SteadyUnderFlood.Latency.P99Ms,
			r.IsolationP50, r.IsolationP99, r.SteadyUnderFlood.Refused, r.SteadyUnderFlood.Failed)
	}
	return nil
}

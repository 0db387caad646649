package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/client"
)

// Data-plane targets, absolute (restated since as "no more than a bare
// proxy's hop", which the report's OverProxy figures measure).
const (
	dataPlaneTargetP50Us = 200
	dataPlaneTargetP99Us = 1000
	dataPlaneTargetRatio = 0.5
)

// dataPlaneReport is what `baton bench dataplane` measured.
type dataPlaneReport struct {
	Runtime   string `json:"runtime"`
	Sandboxes int    `json:"sandboxes"`
	// ClientProcess: the client ran in a process of its own, not in the
	// one that runs Baton.
	ClientProcess bool `json:"clientProcess"`
	// Paced: the same open-loop load at RatePerSecond, through Baton and
	// straight to the sandboxes.
	RatePerSecond float64    `json:"ratePerSecond"`
	PacedBaton    loadResult `json:"pacedBaton"`
	PacedDirect   loadResult `json:"pacedDirect"`
	// PacedProxy is the second baseline: a bare reverse proxy in this
	// process in front of the same sandboxes, the cost of one more HTTP
	// hop and nothing else. OverProxy* is what Baton adds beyond it.
	PacedProxy     loadResult `json:"pacedProxy"`
	AddedP50Us     float64    `json:"addedP50Us"`
	AddedP99Us     float64    `json:"addedP99Us"`
	OverProxyP50Us float64    `json:"overProxyP50Us"`
	OverProxyP99Us float64    `json:"overProxyP99Us"`
	// Saturation: Concurrency requests always in flight.
	Concurrency     int        `json:"concurrency"`
	SaturatedBaton  loadResult `json:"saturatedBaton"`
	SaturatedDirect loadResult `json:"saturatedDirect"`
	ThroughputRatio float64    `json:"throughputRatio"`

	// Identity is the cost of checking each connection dialled to a
	// sandbox, measured in Baton's process only: the bench
	// turns the check on and off between blocks of one paced run, which
	// a client in another process cannot.
	Identity *identityCost `json:"identity,omitempty"`

	// WorkersAfter is the orchestrator's worker table after the runs:
	// sandboxes and reservations, to see what the autoscaler did.
	WorkersAfter []orchestrator.WorkerView `json:"workersAfter"`

	TargetAddedP50Us float64 `json:"targetAddedP50Us"`
	TargetAddedP99Us float64 `json:"targetAddedP99Us"`
	TargetRatio      float64 `json:"targetRatio"`
	Met              bool    `json:"met"`
	machineLoad
}

func benchDataPlaneCmd() *cobra.Command {
	var (
		lo                   localOptions
		out                  string
		rate                 float64
		seconds, satSeconds  time.Duration
		block                time.Duration
		sandboxes            int
		cpuProfile           string
		probe, clientProcess bool
	)
	cmd := &cobra.Command{
		Use:   "dataplane",
		Short: "Warm invocations through the orchestrator against the same requests sent straight to the sandboxes",
		Long: `Starts Baton on this machine (one worker, containerd by default, history off),
deploys a one-stage workflow of the echo test function and warms --sandboxes
sandboxes. Then, with one HTTP client and the same load on both sides:

  paced        --rate requests/s, open loop, alternating between the two paths
               every --block until each has had --seconds: the latency Baton
               adds (its p50 and p99 minus the direct ones)
  saturation   --sandboxes requests always in flight for --saturation-seconds:
               the throughput ratio Baton / direct

"Direct" posts to the same warm sandboxes' endpoints (read from containerd's
container labels), in turn, bypassing the orchestrator. Targets: added p50
<= 200us and p99 <= 1ms at 1,000 requests/s; ratio >= 0.5 at saturation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			orchestratorGC()
			if err := checkOutput(out); err != nil {
				return err
			}
			switch {
			case rate <= 0:
				return fmt.Errorf("flag --rate %v: want > 0", rate)
			case sandboxes < 1:
				return fmt.Errorf("flag --sandboxes %d: want at least 1", sandboxes)
			case seconds <= 0 || satSeconds <= 0:
				return fmt.Errorf("flags --seconds and --saturation-seconds: want > 0")
			case block <= 0:
				return fmt.Errorf("flag --block %v: want > 0", block)
			}
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			rep, err := runDataPlane(cmd.Context(), lo, rate, seconds, satSeconds, block, sandboxes, probe, clientProcess)
			stop()
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			return printDataPlane(cmd.OutOrStdout(), rep)
		},
	}
	lo.flags(cmd.Flags())
	cmd.Flags().Float64Var(&rate, "rate", 1000, "requests per second in the paced comparison")
	cmd.Flags().DurationVar(&seconds, "seconds", 5*time.Second, "paced time per path (the paths alternate, so the run takes twice this)")
	cmd.Flags().DurationVar(&block, "block", 100*time.Millisecond, "the paced run alternates between the paths in blocks this long")
	cmd.Flags().DurationVar(&satSeconds, "saturation-seconds", 5*time.Second, "length of each saturation run")
	cmd.Flags().IntVar(&sandboxes, "sandboxes", 4, "warm sandboxes, and the concurrency at saturation")
	stallsFlag(cmd, &probe)
	cmd.Flags().BoolVar(&clientProcess, "client-process", false, "run the HTTP client in a process of its own, as a real client is, instead of in the bench's (and Baton's) process")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (Baton, client and both paths) to this file")
	outputFlag(cmd, &out)
	return cmd
}

func runDataPlane(ctx context.Context, lo localOptions, rate float64, seconds, satSeconds, block time.Duration, sandboxes int, probe, clientProcess bool) (*dataPlaneReport, error) {
	b, err := startLocal(ctx, lo, 30*time.Minute, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		// A stop that leaves sandboxes behind is said, not hidden.
		if err := b.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "baton bench: stopping Baton:", err)
		}
	}()
	const name, closing = "bench-dataplane", "bench-dataplane-closing"
	if err := b.deployEcho(ctx, name); err != nil {
		return nil, err
	}
	if err := b.deployEchoEnv(ctx, closing, `{BATON_TESTFN_CLOSE: "1"}`); err != nil {
		return nil, err
	}
	eps, err := b.warmPool(ctx, orchestrator.FunctionKey("default", name, "echo"), sandboxes)
	if err != nil {
		return nil, err
	}
	rep := &dataPlaneReport{Runtime: b.cl.Runtime, Sandboxes: len(eps), RatePerSecond: rate, Concurrency: sandboxes,
		ClientProcess:    clientProcess,
		TargetAddedP50Us: dataPlaneTargetP50Us, TargetAddedP99Us: dataPlaneTargetP99Us, TargetRatio: dataPlaneTargetRatio}
	proxyURL, stopProxy, err := startBareProxy(eps)
	if err != nil {
		return nil, err
	}
	defer stopProxy()
	load := dataPlaneLoad{
		BatonURL: b.cl.URL, Token: b.cl.Token, Workflow: name, Endpoints: eps, ProxyURL: proxyURL,
		Rate: rate, Seconds: seconds, Block: block, SaturationSeconds: satSeconds, Concurrency: sandboxes,
	}
	rep.before(ctx, probe)
	var res *dataPlaneLoadResult
	if clientProcess {
		res, err = load.runInChild(ctx)
	} else {
		res = load.run(ctx)
	}
	if err == nil && !clientProcess && ctx.Err() == nil {
		rep.Identity = measureIdentity(ctx, b, name, closing, rate, seconds, block, sandboxes)
	}
	rep.after(ctx, probe)
	if err != nil {
		return nil, err
	}
	rep.PacedDirect, rep.PacedBaton, rep.PacedProxy = res.PacedDirect, res.PacedBaton, res.PacedProxy
	rep.SaturatedDirect, rep.SaturatedBaton = res.SaturatedDirect, res.SaturatedBaton
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	admin := client.Client{URL: b.cl.URL, Token: b.cl.AdminToken}
	if rep.WorkersAfter, err = admin.Workers(ctx); err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	rep.AddedP50Us = (rep.PacedBaton.Latency.P50Ms - rep.PacedDirect.Latency.P50Ms) * 1000
	rep.AddedP99Us = (rep.PacedBaton.Latency.P99Ms - rep.PacedDirect.Latency.P99Ms) * 1000
	rep.OverProxyP50Us = (rep.PacedBaton.Latency.P50Ms - rep.PacedProxy.Latency.P50Ms) * 1000
	rep.OverProxyP99Us = (rep.PacedBaton.Latency.P99Ms - rep.PacedProxy.Latency.P99Ms) * 1000
	if rep.SaturatedDirect.PerSecond > 0 {
		rep.ThroughputRatio = rep.SaturatedBaton.PerSecond / rep.SaturatedDirect.PerSecond
	}
	errs := rep.PacedBaton.Errors + rep.PacedDirect.Errors + rep.PacedProxy.Errors + rep.SaturatedBaton.Errors + rep.SaturatedDirect.Errors
	rep.Met = errs == 0 && rep.AddedP50Us <= dataPlaneTargetP50Us && rep.AddedP99Us <= dataPlaneTargetP99Us &&
		rep.ThroughputRatio >= dataPlaneTargetRatio
	return rep, nil
}

// identityCost is Baton's paced latency with the identity check on and
// off, alternating block by block at the same rate.
type identityCost struct {
	// Kept: the echo function, which keeps its connection, so the check
	// runs only when one is dialled (the warm path).
	KeptOn  loadResult `json:"keptOn"`
	KeptOff loadResult `json:"keptOff"`
	// Closing: the same function closing its connection after every
	// answer, so that every call dials and is checked (the worst case).
	ClosingOn  loadResult `json:"closingOn"`
	ClosingOff loadResult `json:"closingOff"`
	// The check's cost: on minus off, at p50 and p99, in microseconds.
	KeptP50Us    float64 `json:"keptP50Us"`
	KeptP99Us    float64 `json:"keptP99Us"`
	ClosingP50Us float64 `json:"closingP50Us"`
	ClosingP99Us float64 `json:"closingP99Us"`
	// Checks counts the connections checked during the run: about one
	// per request of ClosingOn, a handful for the rest.
	Checks int64 `json:"checks"`
}

// measureIdentity runs the paced load through Baton on two functions,
// one keeping its connections and one closing them, each with the
// identity check on and off, alternating in blocks.
func measureIdentity(ctx context.Context, b *localBench, kept, closing string, rate float64, seconds, block time.Duration, concurrency int) *identityCost {
	hc := benchClient()
	body := []byte(`{"n":42}`)
	o := b.cl.Orchestrator
	defer o.SetIdentityCheck(true)
	toggled := func(on bool, r requester) requester {
		return func(ctx context.Context) (bool, error) {
			o.SetIdentityCheck(on)
			return r(ctx)
		}
	}
	k, c := batonInvoker(hc, b.cl.URL, b.cl.Token, kept, body), batonInvoker(hc, b.cl.URL, b.cl.Token, closing, body)
	saturate(ctx, concurrency, 300*time.Millisecond, c) // its sandboxes warm
	checks := o.ConnectionChecks()
	all := paced(ctx, rate, seconds, block, toggled(true, k), toggled(false, k), toggled(true, c), toggled(false, c))
	ic := &identityCost{KeptOn: all[0], KeptOff: all[1], ClosingOn: all[2], ClosingOff: all[3], Checks: o.ConnectionChecks() - checks}
	ic.KeptP50Us = (ic.KeptOn.Latency.P50Ms - ic.KeptOff.Latency.P50Ms) * 1000
	ic.KeptP99Us = (ic.KeptOn.Latency.P99Ms - ic.KeptOff.Latency.P99Ms) * 1000
	ic.ClosingP50Us = (ic.ClosingOn.Latency.P50Ms - ic.ClosingOff.Latency.P50Ms) * 1000
	ic.ClosingP99Us = (ic.ClosingOn.Latency.P99Ms - ic.ClosingOff.Latency.P99Ms) * 1000
	return ic
}

func printDataPlane(w io.Writer, rep *dataPlaneReport) error {
	where := "in Baton's process"
	if rep.ClientProcess {
		where = "in a process of its own"
	}
	fmt.Fprintf(w, "data plane: %s runtime, %d warm sandboxes of the echo function, one HTTP client for both paths, %s\n\n", rep.Runtime, rep.Sandboxes, where)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPATH\tREQUESTS\tERRORS\tCOLD\tPER SECOND\tP50 MS\tP99 MS\tMAX MS")
	row := func(run, path string, r loadResult) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%.3f\t%.3f\t%.3f\n", run, path, r.Requests, r.Errors, r.ColdStarts, r.PerSecond, r.Latency.P50Ms, r.Latency.P99Ms, r.Latency.MaxMs)
	}
	paced := fmt.Sprintf("paced %.0f/s", rep.RatePerSecond)
	sat := fmt.Sprintf("saturation (%d in flight)", rep.Concurrency)
	row(paced, "direct (baseline)", rep.PacedDirect)
	row(paced, "baton", rep.PacedBaton)
	row(paced, "bare proxy (baseline)", rep.PacedProxy)
	row(sat, "direct (baseline)", rep.SaturatedDirect)
	row(sat, "baton", rep.SaturatedBaton)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nadded latency at %.0f/s: p50 %.0f us (target <= %.0f), p99 %.0f us (target <= %.0f)\n",
		rep.RatePerSecond, rep.AddedP50Us, rep.TargetAddedP50Us, rep.AddedP99Us, rep.TargetAddedP99Us)
	fmt.Fprintf(w, "beyond a bare proxy's extra hop, Baton adds: p50 %.0f us, p99 %.0f us\n", rep.OverProxyP50Us, rep.OverProxyP99Us)
	fmt.Fprintf(w, "throughput ratio at saturation: %.2f (target >= %.1f)\n", rep.ThroughputRatio, rep.TargetRatio)
	for _, r := range []loadResult{rep.PacedDirect, rep.PacedBaton, rep.PacedProxy, rep.SaturatedDirect, rep.SaturatedBaton} {
		if r.FirstError != "" {
			fmt.Fprintf(w, "first error: %s\n", r.FirstError)
		}
	}
	if ic := rep.Identity; ic != nil {
		fmt.Fprintf(w, "\nidentity check (each connection dialled to a sandbox is checked with its worker), on and off in one paced run at %.0f/s:\n", rep.RatePerSecond)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FUNCTION\tCHECK\tREQUESTS\tERRORS\tP50 MS\tP99 MS\tMAX MS")
		for _, r := range []struct {
			fn, check string
			res       loadResult
		}{{"keeps its connection", "on", ic.KeptOn}, {"keeps its connection", "off", ic.KeptOff},
			{"closes every connection", "on", ic.ClosingOn}, {"closes every connection", "off", ic.ClosingOff}} {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.3f\t%.3f\n", r.fn, r.check, r.res.Requests, r.res.Errors, r.res.Latency.P50Ms, r.res.Latency.P99Ms, r.res.Latency.MaxMs)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "the check costs: p50 %+.0f us, p99 %+.0f us on the warm path (kept connections); p50 %+.0f us, p99 %+.0f us when every call dials (%d connections checked in the run)\n",
			ic.KeptP50Us, ic.KeptP99Us, ic.ClosingP50Us, ic.ClosingP99Us, ic.Checks)
	} else if rep.ClientProcess {
		fmt.Fprintln(w, "\nidentity check: not measured with --client-process (the bench turns it on and off between blocks, in Baton's process)")
	}
	for _, wv := range rep.WorkersAfter {
		fmt.Fprintf(w, "after the runs, worker %s: %d sandboxes, reserved %dm CPU and %d MiB of %dm and %d MiB\n",
			wv.ID, wv.Sandboxes, wv.ReservedCPUMilli, wv.ReservedMemoryBytes>>20, wv.CPUMilli, wv.MemoryBytes>>20)
	}
	fmt.Fprintln(w, rep.machineLoad)
	_, err := fmt.Fprintf(w, "targets: %s\n", verdict(rep.Met))
	return err
}

// startBareProxy serves, on a loopback port, a reverse proxy that sends
// each request to the next of endpoints in turn over an http.Transport
// keeping 16 idle connections per sandbox: one extra HTTP hop and nothing
// else, the floor of any orchestrator in the path.
func startBareProxy(endpoints []string) (string, func(), error) {
	targets := make([]*url.URL, len(endpoints))
	for i, ep := range endpoints {
		u, err := url.Parse(ep)
		if err != nil {
			return "", nil, fmt.Errorf("bare proxy: endpoint %q: %w", ep, err)
		}
		targets[i] = u
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost, tr.Proxy = 16, nil
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bare proxy: %w", err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
)

// Data-plane targets, absolute (restated since as "no more than a bare
// proxy's hop", which the report's OverProxy figures measure).
const (
	dataPlaneTargetP50Us = 200
	dataPlaneTargetP99Us = 1000
	dataPlaneTargetRatio = 0.5
)

// DataPlaneOptions configures RunDataPlane; every number must be
// positive.
type DataPlaneOptions struct {
	// Local is the Baton to start.
	Local LocalOptions
	// Rate is the paced comparison's requests per second; Seconds each
	// path's paced time, in turns of Block.
	Rate    float64
	Seconds time.Duration
	Block   time.Duration
	// SaturationSeconds is the length of each saturation run.
	SaturationSeconds time.Duration
	// Sandboxes is how many warm sandboxes serve, and the concurrency at
	// saturation.
	Sandboxes int
	// Stalls probes the machine's CPU stalls before and after the run.
	Stalls bool
	// ClientArgs, when not nil, runs the load in a child process, as a
	// real client is: this executable again with these arguments, which
	// must lead to ServeDataPlaneLoad. Nil runs it in this process.
	ClientArgs []string
	// CPUProfile, when not nil, receives a CPU profile of the whole run
	// (Baton, client and every path).
	CPUProfile io.Writer
}

// DataPlaneReport is what RunDataPlane measured.
type DataPlaneReport struct {
	// Runtime is the worker's sandbox runtime, Sandboxes the warm ones.
	Runtime   string `json:"runtime"`
	Sandboxes int    `json:"sandboxes"`
	// Replicas of the orchestrator (the load goes to the leader).
	Replicas int `json:"replicas"`
	// ClientProcess: the client ran in a process of its own, not in the
	// one that runs Baton.
	ClientProcess bool `json:"clientProcess"`
	// Paced: the same open-loop load at RatePerSecond, through Baton and
	// straight to the sandboxes.
	RatePerSecond float64    `json:"ratePerSecond"`
	PacedBaton    LoadResult `json:"pacedBaton"`
	PacedDirect   LoadResult `json:"pacedDirect"`
	// PacedProxy is the second baseline: a bare reverse proxy in this
	// process in front of the same sandboxes, the cost of one more HTTP
	// hop and nothing else. OverProxy* is what Baton adds beyond it.
	PacedProxy     LoadResult `json:"pacedProxy"`
	AddedP50Us     float64    `json:"addedP50Us"`
	AddedP99Us     float64    `json:"addedP99Us"`
	OverProxyP50Us float64    `json:"overProxyP50Us"`
	OverProxyP99Us float64    `json:"overProxyP99Us"`
	// Saturation: Concurrency requests always in flight.
	Concurrency     int        `json:"concurrency"`
	SaturatedBaton  LoadResult `json:"saturatedBaton"`
	SaturatedDirect LoadResult `json:"saturatedDirect"`
	ThroughputRatio float64    `json:"throughputRatio"`

	// Identity is the cost of checking each connection dialled to a
	// sandbox, measured in Baton's process only: the bench
	// turns the check on and off between blocks of one paced run, which
	// a client in another process cannot.
	Identity *IdentityCost `json:"identity,omitempty"`

	// WorkersAfter is the orchestrator's worker table after the runs:
	// sandboxes and reservations, to see what the autoscaler did.
	WorkersAfter []api.WorkerView `json:"workersAfter"`

	// TargetAddedP50Us, TargetAddedP99Us and TargetRatio are the targets;
	// Met says whether all were reached with no error on any path.
	TargetAddedP50Us float64 `json:"targetAddedP50Us"`
	TargetAddedP99Us float64 `json:"targetAddedP99Us"`
	TargetRatio      float64 `json:"targetRatio"`
	Met              bool    `json:"met"`
	MachineLoad      `json:",inline"`
}

// RunDataPlane starts Baton on this machine (one worker, history off),
// deploys a one-stage workflow of the echo test function, warms
// opts.Sandboxes sandboxes and, with one HTTP client and the same load on
// every path, measures the paced latency through Baton, straight to the
// sandboxes and through a bare reverse proxy, then each of the first two
// at saturation. With the client in this process it also measures the
// cost of the sandbox identity check.
func RunDataPlane(ctx context.Context, opts DataPlaneOptions) (*DataPlaneReport, error) {
	stopProfile, err := startCPUProfile(opts.CPUProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	b, err := startLocal(ctx, opts.Local, 30*time.Minute, nil)
	if err != nil {
		return nil, err
	}
	defer b.stopOrLog()
	const name, closing = "bench-dataplane", "bench-dataplane-closing"
	if err := b.deployEcho(ctx, name); err != nil {
		return nil, err
	}
	if err := b.deployEchoEnv(ctx, closing, `{BATON_TESTFN_CLOSE: "1"}`); err != nil {
		return nil, err
	}
	eps, err := b.warmPool(ctx, orchestrator.FunctionKey("default", name, "echo"), opts.Sandboxes)
	if err != nil {
		return nil, err
	}
	clientProcess := opts.ClientArgs != nil
	rep := &DataPlaneReport{Runtime: b.cl.Runtime, Sandboxes: len(eps), Replicas: max(opts.Local.Replicas, 1), RatePerSecond: opts.Rate, Concurrency: opts.Sandboxes,
		ClientProcess:    clientProcess,
		TargetAddedP50Us: dataPlaneTargetP50Us, TargetAddedP99Us: dataPlaneTargetP99Us, TargetRatio: dataPlaneTargetRatio}
	proxyURL, stopProxy, err := startBareProxy(eps)
	if err != nil {
		return nil, err
	}
	defer stopProxy()
	load := DataPlaneLoad{
		BatonURL: b.cl.URL, Token: b.cl.Token, Workflow: name, Endpoints: eps, ProxyURL: proxyURL,
		Rate: opts.Rate, Seconds: opts.Seconds, Block: opts.Block, SaturationSeconds: opts.SaturationSeconds, Concurrency: opts.Sandboxes,
	}
	rep.before(ctx, opts.Stalls)
	var res *DataPlaneLoadResult
	if clientProcess {
		res, err = load.runInChild(ctx, opts.ClientArgs)
	} else {
		res = load.run(ctx)
	}
	if err == nil && !clientProcess && ctx.Err() == nil {
		rep.Identity = measureIdentity(ctx, b, name, closing, opts)
	}
	rep.after(ctx, opts.Stalls)
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

// IdentityCost is Baton's paced latency with the identity check on and
// off, alternating block by block at the same rate.
type IdentityCost struct {
	// Kept: the echo function, which keeps its connection, so the check
	// runs only when one is dialled (the warm path).
	KeptOn  LoadResult `json:"keptOn"`
	KeptOff LoadResult `json:"keptOff"`
	// Closing: the same function closing its connection after every
	// answer, so that every call dials and is checked (the worst case).
	ClosingOn  LoadResult `json:"closingOn"`
	ClosingOff LoadResult `json:"closingOff"`
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
func measureIdentity(ctx context.Context, b *localBaton, kept, closing string, opts DataPlaneOptions) *IdentityCost {
	hc := newHTTPClient()
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
	saturate(ctx, opts.Sandboxes, 300*time.Millisecond, c) // its sandboxes warm
	checks := o.ConnectionChecks()
	all := paced(ctx, opts.Rate, opts.Seconds, opts.Block, toggled(true, k), toggled(false, k), toggled(true, c), toggled(false, c))
	ic := &IdentityCost{KeptOn: all[0], KeptOff: all[1], ClosingOn: all[2], ClosingOff: all[3], Checks: o.ConnectionChecks() - checks}
	ic.KeptP50Us = (ic.KeptOn.Latency.P50Ms - ic.KeptOff.Latency.P50Ms) * 1000
	ic.KeptP99Us = (ic.KeptOn.Latency.P99Ms - ic.KeptOff.Latency.P99Ms) * 1000
	ic.ClosingP50Us = (ic.ClosingOn.Latency.P50Ms - ic.ClosingOff.Latency.P50Ms) * 1000
	ic.ClosingP99Us = (ic.ClosingOn.Latency.P99Ms - ic.ClosingOff.Latency.P99Ms) * 1000
	return ic
}

// WriteTable prints the report as a table of every run and path, the
// added latencies, the identity check's cost, the worker table and the
// verdict on the targets.
func (r *DataPlaneReport) WriteTable(w io.Writer) error {
	where := "in Baton's process"
	if r.ClientProcess {
		where = "in a process of its own"
	}
	fmt.Fprintf(w, "data plane: %s runtime, %d warm sandboxes of the echo function, one HTTP client for both paths, %s\n\n", r.Runtime, r.Sandboxes, where)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPATH\tREQUESTS\tERRORS\tCOLD\tPER SECOND\tP50 MS\tP99 MS\tMAX MS")
	row := func(run, path string, lr LoadResult) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%.3f\t%.3f\t%.3f\n", run, path, lr.Requests, lr.Errors, lr.ColdStarts, lr.PerSecond, lr.Latency.P50Ms, lr.Latency.P99Ms, lr.Latency.MaxMs)
	}
	pacedRun := fmt.Sprintf("paced %.0f/s", r.RatePerSecond)
	satRun := fmt.Sprintf("saturation (%d in flight)", r.Concurrency)
	row(pacedRun, "direct (baseline)", r.PacedDirect)
	row(pacedRun, "baton", r.PacedBaton)
	row(pacedRun, "bare proxy (baseline)", r.PacedProxy)
	row(satRun, "direct (baseline)", r.SaturatedDirect)
	row(satRun, "baton", r.SaturatedBaton)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nadded latency at %.0f/s: p50 %.0f us (target <= %.0f), p99 %.0f us (target <= %.0f)\n",
		r.RatePerSecond, r.AddedP50Us, r.TargetAddedP50Us, r.AddedP99Us, r.TargetAddedP99Us)
	fmt.Fprintf(w, "beyond a bare proxy's extra hop, Baton adds: p50 %.0f us, p99 %.0f us\n", r.OverProxyP50Us, r.OverProxyP99Us)
	fmt.Fprintf(w, "throughput ratio at saturation: %.2f (target >= %.1f)\n", r.ThroughputRatio, r.TargetRatio)
	for _, lr := range []LoadResult{r.PacedDirect, r.PacedBaton, r.PacedProxy, r.SaturatedDirect, r.SaturatedBaton} {
		if lr.FirstError != "" {
			fmt.Fprintf(w, "first error: %s\n", lr.FirstError)
		}
	}
	if ic := r.Identity; ic != nil {
		fmt.Fprintf(w, "\nidentity check (each connection dialled to a sandbox is checked with its worker), on and off in one paced run at %.0f/s:\n", r.RatePerSecond)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FUNCTION\tCHECK\tREQUESTS\tERRORS\tP50 MS\tP99 MS\tMAX MS")
		for _, row := range []struct {
			fn, check string
			res       LoadResult
		}{{"keeps its connection", "on", ic.KeptOn}, {"keeps its connection", "off", ic.KeptOff},
			{"closes every connection", "on", ic.ClosingOn}, {"closes every connection", "off", ic.ClosingOff}} {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.3f\t%.3f\n", row.fn, row.check, row.res.Requests, row.res.Errors, row.res.Latency.P50Ms, row.res.Latency.P99Ms, row.res.Latency.MaxMs)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "the check costs: p50 %+.0f us, p99 %+.0f us on the warm path (kept connections); p50 %+.0f us, p99 %+.0f us when every call dials (%d connections checked in the run)\n",
			ic.KeptP50Us, ic.KeptP99Us, ic.ClosingP50Us, ic.ClosingP99Us, ic.Checks)
	} else if r.ClientProcess {
		fmt.Fprintln(w, "\nidentity check: not measured with --client-process (the bench turns it on and off between blocks, in Baton's process)")
	}
	for _, wv := range r.WorkersAfter {
		fmt.Fprintf(w, "after the runs, worker %s: %d sandboxes, reserved %dm CPU and %d MiB of %dm and %d MiB\n",
			wv.ID, wv.Sandboxes, wv.ReservedCPUMilli, wv.ReservedMemoryBytes>>20, wv.CPUMilli, wv.MemoryBytes>>20)
	}
	fmt.Fprintln(w, r.MachineLoad)
	_, err := fmt.Fprintf(w, "targets: %s\n", verdict(r.Met))
	return err
}

// startBareProxy serves, on a loopback port, a reverse proxy that sends
// each request to the next of endpoints in turn over an http.Transport
// keeping 16 idle connections per sandbox: one extra HTTP hop and nothing
// else, the floor of any orchestrator in the path. It returns the proxy's
// URL and the function that stops it.
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

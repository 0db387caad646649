package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"text/tabwriter"
	"time"

	"baton.dev/baton/internal/simcluster"
	"baton.dev/baton/worker"
	ctrd "baton.dev/baton/worker/containerd"
)

// Cold-start targets: Baton's cold starts at no less than 0.8 of the
// throughput of containerd and CNI alone, adding at most 10 ms at p50.
const (
	coldTargetRatio      = 0.8
	coldTargetAddedP50Ms = 10
)

// ColdStartOptions configures RunColdStart.
type ColdStartOptions struct {
	// Local is the Baton to start; its Runtime must be containerd, which
	// the baseline uses directly.
	Local LocalOptions
	// N is how many cold starts each side makes at once (at least 1).
	N int
}

// ColdSide is one side of the cold-start comparison.
type ColdSide struct {
	// What says what the side does for each sandbox.
	What string `json:"what"`
	// N is the sandboxes asked for, Errors the ones that failed.
	N      int `json:"n"`
	Errors int `json:"errors"`
	// Seconds is the side's length, PerSecond its sandboxes per second.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	// Latency is each sandbox's time from the request to its first answer.
	Latency simcluster.Latency `json:"latency"`
	// Phases is the mean of the worker runtime's cold-start phases, in ms.
	Phases ColdPhasesMs `json:"phases"`
	// FirstError is the first failure's message, if any.
	FirstError string `json:"firstError,omitempty"`
}

// ColdPhasesMs is a mean cold-start breakdown in milliseconds, phase by
// phase as the worker runtime times them (worker.ColdStart). Outside is
// the rest of each request's time: for Baton the API, router, autoscaler,
// placement, NATS and the forwarded call; for the baseline the one POST.
type ColdPhasesMs struct {
	Pull    float64 `json:"pull"`
	Image   float64 `json:"image"`
	Create  float64 `json:"create"`
	Network float64 `json:"network"`
	Start   float64 `json:"start"`
	Healthy float64 `json:"healthy"`
	Total   float64 `json:"total"`
	Outside float64 `json:"outside"`
}

// ColdStartReport is what RunColdStart measured.
type ColdStartReport struct {
	// N is the cold starts on each side.
	N      int      `json:"n"`
	Baton  ColdSide `json:"baton"`
	Direct ColdSide `json:"direct"`
	// Ratio is Baton's throughput over the baseline's; AddedP50Ms the
	// time Baton adds at p50.
	Ratio      float64 `json:"throughputRatio"`
	AddedP50Ms float64 `json:"addedP50Ms"`
	// TargetRatio and TargetAddedP50Ms are the targets; Met says whether
	// both were reached with no error on either side.
	TargetRatio      float64 `json:"targetRatio"`
	TargetAddedP50Ms float64 `json:"targetAddedP50Ms"`
	Met              bool    `json:"met"`
	MachineLoad      `json:",inline"`
}

// RunColdStart starts Baton on this machine (one worker on containerd,
// history off) and runs two sides, each opts.N sandboxes of the echo test
// function (1000m CPU, 128 MiB, own network namespace on a CNI bridge),
// all at once: the baseline creates them with worker/containerd's Runtime
// on the same containerd, in its own namespace and subnet, and posts to
// each once; Baton's side invokes opts.N fresh workflows once each through
// the API, so that every invocation waits for its own new sandbox. One
// warm-up cold start on each side is not measured.
func RunColdStart(ctx context.Context, opts ColdStartOptions) (*ColdStartReport, error) {
	b, err := startLocal(ctx, opts.Local, 30*time.Minute, nil)
	if err != nil {
		return nil, err
	}
	defer b.stopOrLog()
	rt, closeRT, err := b.openDirect(ctx, ctrd.Config{ImagesDir: b.imgs, Unhardened: opts.Local.Unhardened})
	if err != nil {
		return nil, err
	}
	defer closeRT()

	n := opts.N
	names := make([]string, n+1)
	for i := range names {
		names[i] = fmt.Sprintf("bench-cold-%03d", i)
		if err := b.deployEcho(ctx, names[i]); err != nil {
			return nil, err
		}
	}
	// One warm-up cold start on each side, not measured.
	if _, err := b.api.Invoke(ctx, names[n], []byte(`{}`)); err != nil {
		return nil, fmt.Errorf("warm-up invocation: %w", err)
	}
	warmup, err := directSandbox(ctx, rt, newHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("warm-up sandbox: %w", err)
	}
	if err := rt.Delete(ctx, warmup.ID); err != nil {
		return nil, fmt.Errorf("delete the warm-up sandbox: %w", err)
	}

	rep := &ColdStartReport{N: n, TargetRatio: coldTargetRatio, TargetAddedP50Ms: coldTargetAddedP50Ms}
	rep.before(ctx, false)
	rep.Direct = coldDirect(ctx, rt, n)
	rep.Baton = coldBaton(ctx, b, names[:n])
	rep.after(ctx, false)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rep.Direct.PerSecond > 0 {
		rep.Ratio = rep.Baton.PerSecond / rep.Direct.PerSecond
	}
	rep.AddedP50Ms = rep.Baton.Latency.P50Ms - rep.Direct.Latency.P50Ms
	rep.Met = rep.Baton.Errors == 0 && rep.Direct.Errors == 0 && rep.Ratio >= coldTargetRatio && rep.AddedP50Ms <= coldTargetAddedP50Ms
	return rep, nil
}

// coldResult is one sandbox's outcome.
type coldResult struct {
	took time.Duration
	cs   worker.ColdStart
	err  error
}

// concurrently runs n calls of f at once and gathers them into a side.
func concurrently(n int, what string, f func(i int) coldResult) ColdSide {
	res := make([]coldResult, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = f(i) }()
	}
	wg.Wait()
	side := ColdSide{What: what, N: n, Seconds: time.Since(start).Seconds()}
	var lat []time.Duration
	var sum worker.ColdStart
	for _, r := range res {
		if r.err != nil {
			side.Errors++
			if side.FirstError == "" {
				side.FirstError = r.err.Error()
			}
			continue
		}
		lat = append(lat, r.took)
		sum.Pull += r.cs.Pull
		sum.Image += r.cs.Image
		sum.Create += r.cs.Create
		sum.Network += r.cs.Network
		sum.Start += r.cs.Start
		sum.Healthy += r.cs.Healthy
		sum.Total += r.cs.Total
	}
	side.PerSecond = float64(len(lat)) / side.Seconds
	side.Latency = simcluster.Summarize(lat)
	if k := len(lat); k > 0 {
		mean := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(k) }
		side.Phases = ColdPhasesMs{Pull: mean(sum.Pull), Image: mean(sum.Image), Create: mean(sum.Create), Network: mean(sum.Network),
			Start: mean(sum.Start), Healthy: mean(sum.Healthy), Total: mean(sum.Total)}
		side.Phases.Outside = side.Latency.MeanMs - side.Phases.Total
	}
	return side
}

// coldDirect creates n sandboxes at once with the containerd runtime and
// posts to each once; then deletes them.
func coldDirect(ctx context.Context, rt *ctrd.Runtime, n int) ColdSide {
	hc := newHTTPClient()
	ids := make([]string, n)
	side := concurrently(n, "worker/containerd.Runtime.Create + one POST (containerd Go client + CNI, no orchestrator, NATS or daemon)", func(i int) coldResult {
		t := time.Now()
		sb, err := directSandbox(ctx, rt, hc)
		ids[i] = sb.ID
		return coldResult{took: time.Since(t), cs: sb.ColdStart, err: err}
	})
	for _, id := range ids {
		if id == "" {
			continue
		}
		if err := rt.Delete(context.WithoutCancel(ctx), id); err != nil {
			side.Errors++
			if side.FirstError == "" {
				side.FirstError = fmt.Sprintf("delete sandbox %s: %v", id, err)
			}
		}
	}
	return side
}

// directSandbox creates one echo sandbox with rt and posts to it once. The
// sandbox is left running unless the POST failed.
func directSandbox(ctx context.Context, rt *ctrd.Runtime, hc *http.Client) (worker.Sandbox, error) {
	return directSandboxOf(ctx, rt, hc, echoImage)
}

// coldBaton invokes each workflow once, all at once, and reads each
// invocation's cold-start phases from its record.
func coldBaton(ctx context.Context, b *localBaton, names []string) ColdSide {
	return concurrently(len(names), "one invocation of each of n fresh workflows through the API (router, autoscaler, placement, NATS, daemon, containerd)", func(i int) coldResult {
		t := time.Now()
		res, err := b.api.Invoke(ctx, names[i], []byte(`{}`))
		took := time.Since(t)
		if err != nil {
			return coldResult{err: err}
		}
		inv, err := b.api.Invocation(ctx, res.InvocationID)
		if err != nil {
			return coldResult{err: err}
		}
		if len(inv.Stages) == 0 || inv.Stages[0].ColdStart == nil {
			return coldResult{err: fmt.Errorf("invocation %s of %s had no cold start", res.InvocationID, names[i])}
		}
		return coldResult{took: took, cs: *inv.Stages[0].ColdStart}
	})
}

// WriteTable prints the report as a table, the baseline first, with the
// ratio, the added time and the verdict on the targets.
func (r *ColdStartReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "cold starts: %d concurrent on each side, echo function, 1000m CPU, 128 MiB, CNI bridge\n\n", r.N)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SIDE\tOK\tERRORS\tSECONDS\tPER SECOND\tP50 MS\tP99 MS\tIMAGE\tCREATE\tNETWORK\tSTART\tHEALTHY\tRUNTIME TOTAL\tOUTSIDE (mean ms)")
	for _, s := range []struct {
		name string
		side ColdSide
	}{{"direct (baseline)", r.Direct}, {"baton", r.Baton}} {
		p := s.side.Phases
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n", s.name, s.side.N-s.side.Errors, s.side.Errors,
			s.side.Seconds, s.side.PerSecond, s.side.Latency.P50Ms, s.side.Latency.P99Ms, p.Image, p.Create, p.Network, p.Start, p.Healthy, p.Total, p.Outside)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ndirect: %s\nbaton:  %s\n", r.Direct.What, r.Baton.What)
	for _, s := range []ColdSide{r.Direct, r.Baton} {
		if s.FirstError != "" {
			fmt.Fprintf(w, "first error: %s\n", s.FirstError)
		}
	}
	fmt.Fprintf(w, "throughput ratio %.2f (target >= %.1f); Baton's added time at p50 %.1f ms (target <= %.0f)\n",
		r.Ratio, r.TargetRatio, r.AddedP50Ms, r.TargetAddedP50Ms)
	fmt.Fprintln(w, r.MachineLoad)
	_, err := fmt.Fprintf(w, "targets: %s\n", verdict(r.Met))
	return err
}

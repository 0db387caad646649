package profile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"baton.dev/baton/workflow"
)

// errNoStages says an invocation record had no stage timings.
var errNoStages = errors.New("invocation has no stage timings")

// StageTiming is one stage of one invocation as the API reports it.
type StageTiming struct {
	Stage string
	// Calls is how many calls the stage made (foreach fan-out).
	Calls int
	// ExecMs is the execution time summed over the calls.
	ExecMs float64
}

// Invoker is what Measure needs from a running Baton; the orchestrator's
// HTTP client implements it in cmd/baton, a fake in the tests.
type Invoker interface {
	// Deploy deploys a workflow document.
	Deploy(ctx context.Context, filename string, source []byte) error
	// Invoke runs the workflow synchronously and returns the invocation ID.
	Invoke(ctx context.Context, workflow string, input []byte) (string, error)
	// StageTimings returns an invocation's per-stage timings.
	StageTimings(ctx context.Context, invocationID string) ([]StageTiming, error)
	// Delete removes a workflow.
	Delete(ctx context.Context, workflow string) error
}

// MeasureOptions configure Measure.
type MeasureOptions struct {
	// Grid is the CPU × memory grid to measure.
	Grid Grid
	// Reps is how many measured invocations each grid point gets (> 0).
	Reps int
	// Warmup is how many unmeasured invocations precede them (default 2),
	// so that sandboxes are warm.
	Warmup int
	// Input is the workflow's input for every invocation.
	Input []byte
	// Source describes the measurement for the profile's source field; it
	// must start with "measured:".
	Source string
	// Now stamps the profile.
	Now time.Time
	// Progress, when set, is told after each grid point.
	Progress func(done, total int, point string)
}

// Measure profiles a workflow against a running Baton: for every grid
// point it deploys a copy of the document with every function fixed at that
// CPU and memory (under GridName), warms it, invokes it Reps times, records
// each stage's execution time per call, and deletes the copy.
func Measure(ctx context.Context, inv Invoker, filename string, source []byte, opts MeasureOptions) (*Profile, error) {
	w, err := workflow.Parse(filename, source)
	if err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	if !strings.HasPrefix(opts.Source, "measured:") {
		return nil, fmt.Errorf("measure: source %q must start with \"measured:\"", opts.Source)
	}
	if opts.Reps <= 0 {
		return nil, fmt.Errorf("measure: reps %d, want > 0", opts.Reps)
	}
	if opts.Warmup <= 0 {
		opts.Warmup = 2
	}
	p := &Profile{Version: Version, Workflow: w.Metadata.Name, Source: opts.Source, CreatedAt: opts.Now.UTC(), Grid: opts.Grid}
	if err := ascending("grid.cpuMilli", opts.Grid.CPUMilli); err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	if err := ascending("grid.memoryMiB", opts.Grid.MemoryMiB); err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	index := map[string]int{}
	for i, st := range w.Spec.Stages {
		index[st.Name] = i
		p.Stages = append(p.Stages, Stage{Name: st.Name, Function: st.Function, Items: 1})
	}
	total, done := len(opts.Grid.CPUMilli)*len(opts.Grid.MemoryMiB), 0
	for _, cpu := range opts.Grid.CPUMilli {
		for _, mem := range opts.Grid.MemoryMiB {
			lat, err := measurePoint(ctx, inv, filename, source, w.Metadata.Name, cpu, mem, opts, index)
			if err != nil {
				return nil, err
			}
			for i := range p.Stages {
				p.Stages[i].Points = append(p.Stages[i].Points, Point{CPUMilli: cpu, MemoryMiB: mem, LatencyMs: lat[i].ms})
				p.Stages[i].Items = max(p.Stages[i].Items, lat[i].calls)
			}
			done++
			if opts.Progress != nil {
				opts.Progress(done, total, fmt.Sprintf("%dm/%dMi", cpu, mem))
			}
		}
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	return p, nil
}

// stageSamples is one stage's per-call latencies at one grid point.
type stageSamples struct {
	ms    []float64
	calls int
}

// measurePoint deploys, warms, measures and deletes one grid point's copy.
func measurePoint(ctx context.Context, inv Invoker, filename string, source []byte, base string, cpu, mem int64, opts MeasureOptions, index map[string]int) (out []stageSamples, err error) {
	name := GridName(base, cpu, mem)
	at := fmt.Sprintf("measure %s at %dm/%dMi", base, cpu, mem)
	doc, err := WithFixedResources(filename, source, name, cpu, mem)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if err := inv.Deploy(ctx, filename, doc); err != nil {
		return nil, fmt.Errorf("%s: deploy %s: %w", at, name, err)
	}
	defer func() {
		if derr := inv.Delete(context.WithoutCancel(ctx), name); derr != nil && err == nil {
			err = fmt.Errorf("%s: delete %s: %w", at, name, derr)
		}
	}()
	for i := 0; i < opts.Warmup; i++ {
		if _, err := inv.Invoke(ctx, name, opts.Input); err != nil {
			return nil, fmt.Errorf("%s: warm-up invocation: %w", at, err)
		}
	}
	out = make([]stageSamples, len(index))
	for r := 0; r < opts.Reps; r++ {
		id, err := inv.Invoke(ctx, name, opts.Input)
		if err != nil {
			return nil, fmt.Errorf("%s: invocation %d: %w", at, r+1, err)
		}
		ts, err := inv.StageTimings(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("%s: invocation %s: %w", at, id, err)
		}
		seen := 0
		for _, t := range ts {
			i, ok := index[t.Stage]
			if !ok {
				return nil, fmt.Errorf("%s: invocation %s: unknown stage %q", at, id, t.Stage)
			}
			calls := max(t.Calls, 1)
			out[i].ms = append(out[i].ms, t.ExecMs/float64(calls))
			out[i].calls = max(out[i].calls, calls)
			seen++
		}
		if seen == 0 {
			return nil, fmt.Errorf("%s: invocation %s: %w", at, id, errNoStages)
		}
	}
	for st, i := range index {
		if len(out[i].ms) != opts.Reps {
			return nil, fmt.Errorf("%s: stage %q timed %d of %d invocations", at, st, len(out[i].ms), opts.Reps)
		}
	}
	return out, nil
}

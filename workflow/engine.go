package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxParallel bounds how many elements of one foreach stage run at once.
const DefaultMaxParallel = 16

// Invoker runs one attempt of one stage (for a foreach stage: of one
// element) and returns its output. It must honour ctx: the engine cancels
// ctx to enforce per-attempt timeouts and to stop work after a failure.
type Invoker interface {
	InvokeStage(ctx context.Context, stage *Stage, fn *Function, input []byte) ([]byte, error)
}

// StageRun records how one stage ran.
type StageRun struct {
	// Stage is the stage's name.
	Stage string
	// Start is when the stage started.
	Start time.Time
	// End is when it finished, retries and fan-out included.
	End time.Time
	// Attempts counts invocations: 1 + retries used; for a foreach stage the
	// sum over its elements.
	Attempts int
	// Err is nil on success.
	Err error
}

// Result is the outcome of one workflow invocation.
type Result struct {
	// Output is the workflow's output: the single sink's output, or with
	// several sinks a JSON object keyed by sink name. Nil on failure.
	Output []byte
	// Stages holds one StageRun per stage that started, in declared stage order.
	Stages []StageRun
}

// StageError names the stage that failed; Run returns one when a stage fails.
type StageError struct {
	// Stage is the failed stage's name.
	Stage string
	// Err is why it failed.
	Err error
}

// Error formats e as `stage "detect": <err>`.
func (e *StageError) Error() string { return fmt.Sprintf("stage %q: %v", e.Stage, e.Err) }

// Unwrap returns the stage's error.
func (e *StageError) Unwrap() error { return e.Err }

// Engine runs workflow invocations. The zero value uses the defaults; an
// Engine holds no state between runs and may be shared by goroutines.
type Engine struct {
	// MaxParallel bounds the concurrent elements of one foreach stage;
	// <= 0 means DefaultMaxParallel.
	MaxParallel int
	// BaseBackoff is the backoff ceiling before the first retry, doubled per
	// retry; <= 0 means DefaultBaseBackoff.
	BaseBackoff time.Duration
	// MaxBackoff caps the backoff ceiling; <= 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
}

// Run executes w on input with a default Engine: stages start as soon as all
// their needs finished, independent stages run in parallel, and the first
// stage failure cancels the rest. On a stage failure Run returns the partial
// Result and a *StageError.
func Run(ctx context.Context, w *Workflow, input []byte, inv Invoker) (*Result, error) {
	var e Engine
	return e.Run(ctx, w, input, inv)
}

// stageDone reports a finished stage to the scheduling loop.
type stageDone struct {
	idx int
	out []byte
	run StageRun
}

// Run executes w on input; see the package-level Run.
func (e *Engine) Run(ctx context.Context, w *Workflow, input []byte, inv Invoker) (*Result, error) {
	if inv == nil {
		return nil, fmt.Errorf("run workflow: nil invoker")
	}
	if err := checkRunnable(w); err != nil {
		return nil, fmt.Errorf("run workflow: %w", err)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("run workflow %q: %w", w.Metadata.Name, err)
	}
	stages := w.Spec.Stages
	index := make(map[string]int, len(stages))
	for i, st := range stages {
		index[st.Name] = i
	}
	pending := make([]int, len(stages)) // unfinished needs per stage
	feeds := make([][]int, len(stages)) // stages that need stage i
	for j, st := range stages {
		pending[j] = len(st.Needs)
		for _, n := range st.Needs {
			feeds[index[n]] = append(feeds[index[n]], j)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	outputs := make([][]byte, len(stages))
	runs := make([]*StageRun, len(stages))
	done := make(chan stageDone, len(stages)) // buffered: senders never block
	outputOf := func(name string) []byte { return outputs[index[name]] }
	running, finished := 0, 0
	start := func(i int) {
		st := stages[i]
		in := stageInput(st, input, outputOf)
		fn := w.Spec.Functions[st.Function]
		running++
		go func() {
			run := StageRun{Stage: st.Name, Start: time.Now()}
			out, attempts, err := e.runStage(runCtx, st, fn, in, inv)
			run.End, run.Attempts, run.Err = time.Now(), attempts, err
			done <- stageDone{idx: i, out: out, run: run}
		}()
	}
	for i := range stages {
		if pending[i] == 0 {
			start(i)
		}
	}

	var failed *StageError
	for running > 0 {
		d := <-done
		running--
		runs[d.idx] = &d.run
		if d.run.Err != nil {
			if failed == nil {
				failed = &StageError{Stage: d.run.Stage, Err: d.run.Err}
				cancel()
			}
			continue
		}
		finished++
		outputs[d.idx] = d.out
		if failed != nil || runCtx.Err() != nil {
			continue // draining: start nothing new
		}
		for _, j := range feeds[d.idx] {
			if pending[j]--; pending[j] == 0 {
				start(j)
			}
		}
	}

	res := &Result{}
	for _, r := range runs {
		if r != nil {
			res.Stages = append(res.Stages, *r)
		}
	}
	switch {
	case failed != nil:
		return res, failed
	case finished < len(stages):
		return res, fmt.Errorf("run workflow %q: %w", w.Metadata.Name, context.Cause(runCtx))
	}
	res.Output = workflowOutput(w, outputOf)
	return res, nil
}

// workflowOutput is the single sink's output, or an object keyed by sink name.
func workflowOutput(w *Workflow, outputOf func(string) []byte) []byte {
	sinks := w.Sinks()
	if len(sinks) == 1 {
		return outputOf(sinks[0].Name)
	}
	keys := make([]string, len(sinks))
	outs := make([][]byte, len(sinks))
	for i, s := range sinks {
		keys[i], outs[i] = s.Name, outputOf(s.Name)
	}
	return joinObject(keys, outs)
}

// shouldRun decides whether a stage runs on its input. This is where `when:`
// conditions (a later issue) will be evaluated; today every stage runs.
func shouldRun(_ *Stage, _ []byte) (bool, error) { return true, nil }

// skippedOutput is the output of a stage that shouldRun skipped.
const skippedOutput = "null"

// runStage runs one stage on its input: once with retries, or for a foreach
// stage once per element, in parallel, gathering outputs into an array.
func (e *Engine) runStage(ctx context.Context, st *Stage, fn *Function, input []byte, inv Invoker) ([]byte, int, error) {
	run, err := shouldRun(st, input)
	if err != nil {
		return nil, 0, err
	}
	if !run {
		return []byte(skippedOutput), 0, nil
	}
	if st.Foreach == "" {
		return e.invokeWithRetry(ctx, st, fn, input, inv)
	}
	items, err := foreachItems(input, st.Foreach)
	if err != nil {
		return nil, 0, err
	}
	return e.fanOut(ctx, st, fn, items, inv)
}

// fanOut invokes st once per item with at most MaxParallel at a time; the
// first failing element cancels the others.
func (e *Engine) fanOut(ctx context.Context, st *Stage, fn *Function, items [][]byte, inv Invoker) ([]byte, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outs := make([][]byte, len(items))
	sem := make(chan struct{}, e.maxParallel())
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		attempts int
		firstErr error
	)
launch:
	for i, item := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break launch
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, n, err := e.invokeWithRetry(ctx, st, fn, item, inv)
			mu.Lock()
			defer mu.Unlock()
			attempts += n
			outs[i] = out
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("element %d: %w", i, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, attempts, firstErr
	}
	return joinArray(outs), attempts, nil
}

// maxParallel is the foreach bound in effect.
func (e *Engine) maxParallel() int {
	if e.MaxParallel > 0 {
		return e.MaxParallel
	}
	return DefaultMaxParallel
}

// invokeOnce runs one attempt under the stage's per-attempt timeout.
func invokeOnce(ctx context.Context, st *Stage, fn *Function, input []byte, inv Invoker) ([]byte, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if st.Timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, st.Timeout)
	}
	defer cancel()
	out, err := safeInvoke(actx, st, fn, input, inv)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("timed out after %s: %w", st.Timeout, err)
	}
	return out, err
}

// safeInvoke calls the invoker, turning a panic into an error so that one
// bad stage cannot take the whole process down.
func safeInvoke(ctx context.Context, st *Stage, fn *Function, input []byte, inv Invoker) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("invoker panicked: %v", r)
		}
	}()
	return inv.InvokeStage(ctx, st, fn, input)
}

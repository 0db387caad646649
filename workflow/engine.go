package workflow

import (
	"context"
	"encoding/json"
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
	// sum over its elements. Zero for a skipped stage.
	Attempts int
	// Skipped is true when the stage did not run: its when: condition was
	// false, or all its needs were skipped. Its output is null.
	Skipped bool
	// Err is nil on success. A stage with onError: continue may have an
	// Err and still have let the invocation go on.
	Err error
}

// Result is the outcome of one workflow invocation.
type Result struct {
	// Output is the workflow's output: the single sink's output, or with
	// several sinks a JSON object keyed by sink name. Nil on failure.
	Output []byte
	// Stages holds one StageRun per stage that started or was skipped, in
	// declared stage order.
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
	// MaxParallel bounds the concurrent elements of a foreach stage that
	// sets no maxParallel; <= 0 means DefaultMaxParallel.
	MaxParallel int
	// BaseBackoff is the backoff ceiling before the first retry, doubled per
	// retry; <= 0 means DefaultBaseBackoff.
	BaseBackoff time.Duration
	// MaxBackoff caps the backoff ceiling; <= 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Limits bound fan-out width, payload size and nesting depth; zero
	// fields take their defaults (DefaultLimits).
	Limits Limits
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

// Run executes w on input; see the package-level Run. A stage whose
// when: condition is false, or all of whose needs were skipped, is skipped
// and passes null on. A failed stage with onError: continue passes an error
// value on instead of failing the invocation. spec.timeout bounds the whole
// run: when it fires, Run returns an error wrapping context.DeadlineExceeded.
func (e *Engine) Run(ctx context.Context, w *Workflow, input []byte, inv Invoker) (*Result, error) {
	if inv == nil {
		return nil, fmt.Errorf("run workflow: nil invoker")
	}
	if err := checkRunnable(w); err != nil {
		return nil, fmt.Errorf("run workflow: %w", err)
	}
	conds, err := conditions(w.Spec.Stages)
	if err != nil {
		return nil, fmt.Errorf("run workflow: %w", err)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("run workflow %q: %w", w.Metadata.Name, err)
	}
	limits := e.Limits.withDefaults()
	if err := limits.checkPayload("workflow input", input); err != nil {
		return nil, fmt.Errorf("run workflow %q: %w", w.Metadata.Name, err)
	}
	var timedOut error
	if d := w.Spec.Timeout; d > 0 {
		timedOut = fmt.Errorf("run workflow %q: timed out after %s (spec.timeout): %w", w.Metadata.Name, d, context.DeadlineExceeded)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, timedOut)
		defer cancel()
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
	skipped := make([]bool, len(stages))
	runs := make([]*StageRun, len(stages))
	done := make(chan stageDone, len(stages)) // buffered: senders never block
	outputOf := func(name string) []byte { return outputs[index[name]] }
	running, finished := 0, 0
	var ready []int
	// complete records a stage's output and queues the dependents it readies.
	complete := func(i int, out []byte) {
		finished++
		outputs[i] = out
		for _, j := range feeds[i] {
			if pending[j]--; pending[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	allNeedsSkipped := func(st *Stage) bool {
		for _, n := range st.Needs {
			if !skipped[index[n]] {
				return false
			}
		}
		return len(st.Needs) > 0
	}
	start := func(i int) {
		st := stages[i]
		if allNeedsSkipped(st) {
			now := time.Now()
			skipped[i] = true
			runs[i] = &StageRun{Stage: st.Name, Start: now, End: now, Skipped: true}
			complete(i, []byte(skippedOutput))
			return
		}
		in := stageInput(st, input, outputOf)
		fn := w.Spec.Functions[st.Function]
		running++
		exec := func() {
			run := StageRun{Stage: st.Name, Start: time.Now()}
			out, attempts, skip, err := e.runStage(runCtx, st, conds[i], fn, in, inv, limits)
			run.End, run.Attempts, run.Skipped, run.Err = time.Now(), attempts, skip, err
			if err != nil && st.OnError == OnErrorContinue && runCtx.Err() == nil {
				out = errorValue(st.Name, err)
			}
			done <- stageDone{idx: i, out: out, run: run}
		}
		if running == 1 && len(ready) == 0 {
			// The only stage that can run: no goroutine to hand it to and
			// wait on (each handoff is a wake-up on the critical path;
			// a chain of stages pays one per stage).
			exec()
			return
		}
		go exec()
	}
	for i := range stages {
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}

	var failed *StageError
	for {
		for len(ready) > 0 && failed == nil && runCtx.Err() == nil {
			i := ready[0]
			ready = ready[1:]
			start(i)
		}
		if running == 0 {
			break
		}
		d := <-done
		running--
		runs[d.idx] = &d.run
		if d.run.Err != nil && d.out == nil {
			if failed == nil {
				failed = &StageError{Stage: d.run.Stage, Err: d.run.Err}
				cancel()
			}
			continue
		}
		skipped[d.idx] = d.run.Skipped
		complete(d.idx, d.out)
	}

	res := &Result{}
	for _, r := range runs {
		if r != nil {
			res.Stages = append(res.Stages, *r)
		}
	}
	switch {
	case timedOut != nil && context.Cause(ctx) == timedOut:
		return res, timedOut
	case failed != nil:
		return res, failed
	case finished < len(stages):
		return res, fmt.Errorf("run workflow %q: %w", w.Metadata.Name, context.Cause(runCtx))
	}
	res.Output = workflowOutput(w, outputOf)
	return res, nil
}

// conditions returns each stage's compiled when: condition (nil for none),
// compiling those of stages that Parse did not build.
func conditions(stages []*Stage) ([]*condition, error) {
	conds := make([]*condition, len(stages))
	for i, st := range stages {
		switch {
		case st.When == "":
		case st.condition != nil:
			conds[i] = st.condition
		default:
			c, err := compileCondition(st.When)
			if err != nil {
				return nil, fmt.Errorf("stage %q: when: %w", st.Name, err)
			}
			conds[i] = c
		}
	}
	return conds, nil
}

// errorValue is the output a failed stage with onError: continue passes on.
func errorValue(stage string, err error) []byte {
	v := struct {
		Error struct {
			Stage   string `json:"stage"`
			Message string `json:"message"`
		} `json:"error"`
	}{}
	v.Error.Stage, v.Error.Message = stage, err.Error()
	b, _ := json.Marshal(v) // marshalling strings cannot fail
	return b
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

// skippedOutput is the output of a skipped stage.
const skippedOutput = "null"

// runStage runs one stage on its input: once with retries, or for a foreach
// stage once per element, in parallel, gathering outputs into an array. It
// reports whether the stage was skipped by its condition, and refuses an
// output over the payload limits.
func (e *Engine) runStage(ctx context.Context, st *Stage, cond *condition, fn *Function, input []byte, inv Invoker, limits Limits) ([]byte, int, bool, error) {
	if cond != nil {
		run, err := cond.holds(ctx, input)
		if err != nil {
			return nil, 0, false, err
		}
		if !run {
			return []byte(skippedOutput), 0, true, nil
		}
	}
	var (
		out      []byte
		attempts int
		err      error
	)
	if st.Foreach == "" {
		out, attempts, err = e.invokeWithRetry(ctx, st, fn, input, inv)
	} else {
		var items [][]byte
		if items, err = foreachItems(input, st.Foreach); err != nil {
			return nil, 0, false, err
		}
		if len(items) > limits.MaxFanOut {
			return nil, 0, false, fmt.Errorf("foreach path %q: %d elements; the fan-out limit is %d", st.Foreach, len(items), limits.MaxFanOut)
		}
		out, attempts, err = e.fanOut(ctx, st, fn, items, inv)
	}
	if err != nil {
		return nil, attempts, false, err
	}
	if err := limits.checkPayload("output", out); err != nil {
		return nil, attempts, false, err
	}
	return out, attempts, false, nil
}

// fanOut invokes st once per item with at most MaxParallel at a time; the
// first failing element cancels the others.
func (e *Engine) fanOut(ctx context.Context, st *Stage, fn *Function, items [][]byte, inv Invoker) ([]byte, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outs := make([][]byte, len(items))
	sem := make(chan struct{}, e.maxParallel(st))
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
			if err != nil && st.OnError == OnErrorContinue && ctx.Err() == nil {
				outs[i] = errorValue(st.Name, fmt.Errorf("element %d: %w", i, err))
				return
			}
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

// maxParallel is the foreach bound in effect for st.
func (e *Engine) maxParallel(st *Stage) int {
	if st.MaxParallel > 0 {
		return st.MaxParallel
	}
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

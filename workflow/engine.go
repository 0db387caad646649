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
	r, err := e.newRun(ctx, w, input, inv)
	if err != nil {
		return nil, err
	}
	ctx, stopTimeout := r.withTimeout(ctx)
	defer stopTimeout()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.cancel = cancel
	r.plan()
	r.schedule(runCtx)
	return r.result(ctx, runCtx)
}

// run is one invocation of a workflow by an Engine: what it runs, the
// dependency graph between its stages, and how far it has got. Its methods
// are the steps of the scheduling loop.
//
// The scheduling goroutine (the one in schedule) owns the progress fields
// and is the only one to read or write them. A stage running on its own
// goroutine reads only fields set before scheduling starts and reports back
// through done, so the state needs no lock.
type run struct {
	e      *Engine
	w      *Workflow
	inv    Invoker
	input  []byte
	limits Limits       // e.Limits with defaults filled in
	conds  []*condition // each stage's when: condition; nil for none
	stages []*Stage     // w.Spec.Stages; a stage is known by its index here

	// timedOut is the cause given to the spec.timeout deadline, so that
	// result can tell that deadline from one of the caller's; nil when the
	// workflow sets no timeout.
	timedOut error
	// cancel stops the stages still running once one has failed.
	cancel context.CancelFunc

	// The dependency graph, built by plan.
	index   map[string]int // stage name to index
	pending []int          // unfinished needs per stage
	feeds   [][]int        // stages that need stage i

	// Progress, owned by the scheduling goroutine.
	outputs  [][]byte
	skipped  []bool
	runs     []*StageRun    // how each stage ran; nil for one never started
	done     chan stageDone // buffered: senders never block
	ready    []int          // stages whose needs all finished, not yet started
	running  int            // stages started and not yet reported on done
	finished int            // stages whose output is known (ran, skipped or continued)
	failed   *StageError    // the first failure; nothing starts after it
}

// newRun checks that w can run on input with inv under ctx and sets up its
// state. The checks come before any stage starts, so a workflow that cannot
// run fails without invoking anything.
func (e *Engine) newRun(ctx context.Context, w *Workflow, input []byte, inv Invoker) (*run, error) {
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
	n := len(w.Spec.Stages)
	return &run{
		e:       e,
		w:       w,
		inv:     inv,
		input:   input,
		limits:  limits,
		conds:   conds,
		stages:  w.Spec.Stages,
		outputs: make([][]byte, n),
		skipped: make([]bool, n),
		runs:    make([]*StageRun, n),
		done:    make(chan stageDone, n),
	}, nil
}

// withTimeout bounds ctx by the workflow's spec.timeout, when it sets one,
// and records the cause the deadline carries.
func (r *run) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	d := r.w.Spec.Timeout
	if d <= 0 {
		return ctx, func() {}
	}
	r.timedOut = fmt.Errorf("run workflow %q: timed out after %s (spec.timeout): %w", r.w.Metadata.Name, d, context.DeadlineExceeded)
	return context.WithTimeoutCause(ctx, d, r.timedOut)
}

// plan builds the dependency graph (how many needs each stage waits for
// and which stages each one feeds) and queues the stages that need
// nothing, in declared order.
func (r *run) plan() {
	r.index = make(map[string]int, len(r.stages))
	for i, st := range r.stages {
		r.index[st.Name] = i
	}
	r.pending = make([]int, len(r.stages))
	r.feeds = make([][]int, len(r.stages))
	for j, st := range r.stages {
		r.pending[j] = len(st.Needs)
		for _, n := range st.Needs {
			r.feeds[r.index[n]] = append(r.feeds[r.index[n]], j)
		}
	}
	for i := range r.stages {
		if r.pending[i] == 0 {
			r.ready = append(r.ready, i)
		}
	}
}

// schedule starts stages as their needs finish and records each report
// until no stage is running. After a failure, or once ctx ends, it starts
// nothing more but still waits for the stages already running, so that no
// stage outlives Run.
func (r *run) schedule(ctx context.Context) {
	for {
		r.startReady(ctx)
		if r.running == 0 {
			return
		}
		r.finish(<-r.done)
	}
}

// startReady starts the ready stages in the order they became ready,
// unless a stage has failed or ctx has ended.
func (r *run) startReady(ctx context.Context) {
	for len(r.ready) > 0 && r.failed == nil && ctx.Err() == nil {
		i := r.ready[0]
		r.ready = r.ready[1:]
		r.start(ctx, i)
	}
}

// start runs stage i on the outputs of its needs, or skips it when all its
// needs were skipped. A stage runs on a goroutine of its own, except the
// only one that can run: handing it over and waiting for it would put a
// wake-up on the critical path, and a chain of stages would pay one per
// stage.
func (r *run) start(ctx context.Context, i int) {
	st := r.stages[i]
	if r.allNeedsSkipped(st) {
		r.skip(i)
		return
	}
	in := stageInput(st, r.input, r.outputOf)
	fn := r.w.Spec.Functions[st.Function]
	r.running++
	if r.running == 1 && len(r.ready) == 0 {
		r.exec(ctx, i, fn, in)
		return
	}
	go r.exec(ctx, i, fn, in)
}

// exec runs stage i with retries and fan-out and reports how it went on
// done. A failure of a stage with onError: continue becomes an error value
// for its dependents, unless ctx has ended: then the failure is the stop's
// doing, not the stage's.
func (r *run) exec(ctx context.Context, i int, fn *Function, in []byte) {
	st := r.stages[i]
	sr := StageRun{Stage: st.Name, Start: time.Now()}
	out, attempts, skip, err := r.e.runStage(ctx, st, r.conds[i], fn, in, r.inv, r.limits)
	sr.End, sr.Attempts, sr.Skipped, sr.Err = time.Now(), attempts, skip, err
	if err != nil && st.OnError == OnErrorContinue && ctx.Err() == nil {
		out = errorValue(st.Name, err)
	}
	r.done <- stageDone{idx: i, out: out, run: sr}
}

// finish records a stage's report. A failure with no output to pass on
// fails the run: the first such failure is kept and cancels the stages
// still running. Anything else completes the stage.
func (r *run) finish(d stageDone) {
	r.running--
	r.runs[d.idx] = &d.run
	if d.run.Err != nil && d.out == nil {
		if r.failed == nil {
			r.failed = &StageError{Stage: d.run.Stage, Err: d.run.Err}
			r.cancel()
		}
		return
	}
	r.skipped[d.idx] = d.run.Skipped
	r.complete(d.idx, d.out)
}

// skip completes stage i without running it; its output is null.
func (r *run) skip(i int) {
	now := time.Now()
	r.skipped[i] = true
	r.runs[i] = &StageRun{Stage: r.stages[i].Name, Start: now, End: now, Skipped: true}
	r.complete(i, []byte(skippedOutput))
}

// complete records stage i's output and queues the dependents for which it
// was the last unfinished need.
func (r *run) complete(i int, out []byte) {
	r.finished++
	r.outputs[i] = out
	for _, j := range r.feeds[i] {
		if r.pending[j]--; r.pending[j] == 0 {
			r.ready = append(r.ready, j)
		}
	}
}

// allNeedsSkipped reports whether st has needs and all of them were
// skipped; a stage without needs is never skipped for this reason.
func (r *run) allNeedsSkipped(st *Stage) bool {
	for _, n := range st.Needs {
		if !r.skipped[r.index[n]] {
			return false
		}
	}
	return len(st.Needs) > 0
}

// outputOf is the output of the stage named name; nil until it completes.
func (r *run) outputOf(name string) []byte { return r.outputs[r.index[name]] }

// result is the run's outcome once schedule has returned; ctx is the run's
// context bounded by spec.timeout, runCtx the one its stages ran under.
// The workflow's own timeout is reported rather than the stage failure it
// caused; a run that ended without every stage finishing, and without a
// failure, was stopped by its caller's context.
func (r *run) result(ctx, runCtx context.Context) (*Result, error) {
	res := &Result{Stages: r.stageRuns()}
	switch {
	case r.timedOut != nil && context.Cause(ctx) == r.timedOut:
		return res, r.timedOut
	case r.failed != nil:
		return res, r.failed
	case r.finished < len(r.stages):
		return res, fmt.Errorf("run workflow %q: %w", r.w.Metadata.Name, context.Cause(runCtx))
	}
	res.Output = workflowOutput(r.w, r.outputOf)
	return res, nil
}

// stageRuns lists how each stage that started or was skipped ran, in
// declared stage order; nil when none did.
func (r *run) stageRuns() []StageRun {
	var out []StageRun
	for _, sr := range r.runs {
		if sr != nil {
			out = append(out, *sr)
		}
	}
	return out
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

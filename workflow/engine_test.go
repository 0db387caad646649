package workflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// invokerFunc is a test double: an Invoker computing a stage's output from
// its input with a function.
type invokerFunc func(ctx context.Context, st *Stage, fn *Function, input []byte) ([]byte, error)

func (f invokerFunc) InvokeStage(ctx context.Context, st *Stage, fn *Function, input []byte) ([]byte, error) {
	return f(ctx, st, fn, input)
}

var _ Invoker = invokerFunc(nil)

// wrapInvoker outputs "stage(input)", showing exactly what each stage received.
func wrapInvoker() Invoker {
	return invokerFunc(func(_ context.Context, st *Stage, _ *Function, in []byte) ([]byte, error) {
		return []byte(st.Name + "(" + string(in) + ")"), nil
	})
}

// fastEngine retries without waiting long.
func fastEngine() *Engine {
	return &Engine{BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
}

func stageNames(runs []StageRun) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Stage)
	}
	return out
}

func TestRunChain(t *testing.T) {
	w := graphWorkflow([]string{"a"}, []string{"b", "a"}, []string{"c", "b"})
	res, err := Run(context.Background(), w, []byte("in"), wrapInvoker())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := string(res.Output); got != "c(b(a(in)))" {
		t.Errorf("output = %q, want %q", got, "c(b(a(in)))")
	}
	if got := fmt.Sprint(stageNames(res.Stages)); got != "[a b c]" {
		t.Errorf("stages = %s", got)
	}
	for _, r := range res.Stages {
		if r.Attempts != 1 || r.Err != nil || r.End.Before(r.Start) {
			t.Errorf("run %+v", r)
		}
	}
}

func TestRunDiamondConcurrentAndJoin(t *testing.T) {
	w := graphWorkflow([]string{"a"}, []string{"b", "a"}, []string{"c", "a"}, []string{"d", "b", "c"})
	var arrived sync.WaitGroup
	arrived.Add(2)
	bothIn := make(chan struct{})
	go func() { arrived.Wait(); close(bothIn) }()
	inputs := sync.Map{}
	inv := invokerFunc(func(ctx context.Context, st *Stage, _ *Function, in []byte) ([]byte, error) {
		inputs.Store(st.Name, string(in))
		switch st.Name {
		case "b", "c":
			// Barrier: each middle stage waits for the other to start.
			arrived.Done()
			select {
			case <-bothIn:
			case <-time.After(5 * time.Second):
				return nil, errors.New("barrier: the other middle stage did not run concurrently")
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if st.Name == "b" {
				return []byte(` {"x": [1, 2]} `), nil
			}
			return []byte(`not "json"`), nil
		case "d":
			return in, nil
		}
		return []byte(`{"a":true}`), nil
	})
	res, err := Run(context.Background(), w, []byte(`{"req":1}`), inv)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := `{"b":{"x": [1, 2]},"c":"not \"json\""}`
	if got := string(res.Output); got != want {
		t.Errorf("output = %s, want %s", got, want)
	}
	if in, _ := inputs.Load("a"); in != `{"req":1}` {
		t.Errorf("a input = %v, want the workflow input", in)
	}
	if in, _ := inputs.Load("b"); in != `{"a":true}` {
		t.Errorf("b input = %v, want a's output unchanged", in)
	}
	if got := fmt.Sprint(stageNames(res.Stages)); got != "[a b c d]" {
		t.Errorf("stages = %s", got)
	}
}

func TestRunSeveralSinks(t *testing.T) {
	w := graphWorkflow([]string{"a"}, []string{"b", "a"}, []string{"c", "a"})
	inv := invokerFunc(func(_ context.Context, st *Stage, _ *Function, in []byte) ([]byte, error) {
		if st.Name == "c" {
			return []byte("7"), nil
		}
		return []byte(`"` + st.Name + `"`), nil
	})
	res, err := Run(context.Background(), w, nil, inv)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := string(res.Output), `{"b":"b","c":7}`; got != want {
		t.Errorf("output = %s, want %s", got, want)
	}
}

func TestRunFailureCancelsOthers(t *testing.T) {
	// slow and fail start together; fail fails once slow is running; after
	// (which needs slow) must never start.
	w := graphWorkflow([]string{"slow"}, []string{"fail"}, []string{"after", "slow"})
	boom := errors.New("boom")
	slowStarted := make(chan struct{})
	var afterRan atomic.Bool
	inv := invokerFunc(func(ctx context.Context, st *Stage, _ *Function, _ []byte) ([]byte, error) {
		switch st.Name {
		case "slow":
			close(slowStarted)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Second):
				return nil, errors.New("slow stage was not cancelled")
			}
		case "fail":
			<-slowStarted
			return nil, boom
		}
		afterRan.Store(true)
		return nil, nil
	})
	res, err := Run(context.Background(), w, nil, inv)
	var se *StageError
	if !errors.As(err, &se) || se.Stage != "fail" {
		t.Fatalf("err = %v, want a StageError for stage fail", err)
	}
	if err.Error() != `stage "fail": boom` || !errors.Is(err, boom) {
		t.Errorf("err = %q", err)
	}
	if res == nil {
		t.Fatal("no partial result")
	}
	if res.Output != nil {
		t.Errorf("output = %q, want nil", res.Output)
	}
	if got := fmt.Sprint(stageNames(res.Stages)); got != "[slow fail]" {
		t.Fatalf("stages = %s, want [slow fail]", got)
	}
	if !errors.Is(res.Stages[0].Err, context.Canceled) {
		t.Errorf("slow err = %v, want context.Canceled", res.Stages[0].Err)
	}
	if !errors.Is(res.Stages[1].Err, boom) {
		t.Errorf("fail err = %v", res.Stages[1].Err)
	}
	if afterRan.Load() {
		t.Error("a stage started after the failure")
	}
}

func TestRunRetries(t *testing.T) {
	tests := []struct {
		name         string
		retries      int
		failures     int
		wantAttempts int
		wantErr      string
	}{
		{"no failure", 2, 0, 1, ""},
		{"recovers on last retry", 2, 2, 3, ""},
		{"runs out of retries", 1, 5, 2, `stage "a": failed after 2 attempts: flaky 2`},
		{"no retries", 0, 1, 1, `stage "a": flaky 1`},
		{"max retries", MaxRetries, 100, MaxRetries + 1, `stage "a": failed after 11 attempts: flaky 11`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := graphWorkflow([]string{"a"})
			w.Spec.Stages[0].Retries = tt.retries
			var calls atomic.Int32
			inv := invokerFunc(func(context.Context, *Stage, *Function, []byte) ([]byte, error) {
				n := int(calls.Add(1))
				if n <= tt.failures {
					return nil, fmt.Errorf("flaky %d", n)
				}
				return []byte("ok"), nil
			})
			res, err := fastEngine().Run(context.Background(), w, nil, inv)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("err = %q, want %q", gotErr, tt.wantErr)
			}
			if len(res.Stages) != 1 || res.Stages[0].Attempts != tt.wantAttempts {
				t.Errorf("stages = %+v, want %d attempts", res.Stages, tt.wantAttempts)
			}
			if int(calls.Load()) != tt.wantAttempts {
				t.Errorf("invoker called %d times, want %d", calls.Load(), tt.wantAttempts)
			}
		})
	}
}

func TestRunRetryDefaultBackoff(t *testing.T) {
	w := graphWorkflow([]string{"a"})
	w.Spec.Stages[0].Retries = 1
	var calls atomic.Int32
	inv := invokerFunc(func(context.Context, *Stage, *Function, []byte) ([]byte, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("once")
		}
		return []byte("ok"), nil
	})
	res, err := Run(context.Background(), w, nil, inv)
	if err != nil || string(res.Output) != "ok" || res.Stages[0].Attempts != 2 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
}

func TestRunRetryHonoursContext(t *testing.T) {
	w := graphWorkflow([]string{"a"})
	w.Spec.Stages[0].Retries = MaxRetries
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv := invokerFunc(func(context.Context, *Stage, *Function, []byte) ([]byte, error) {
		return nil, errors.New("down")
	})
	e := &Engine{BaseBackoff: time.Hour, MaxBackoff: time.Hour}
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	done := make(chan error, 1)
	go func() { _, err := e.Run(ctx, w, nil, inv); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept waiting to retry after its context was cancelled")
	}
}

func TestRunTimeout(t *testing.T) {
	w := graphWorkflow([]string{"a"})
	w.Spec.Stages[0].Timeout = 20 * time.Millisecond
	hang := invokerFunc(func(ctx context.Context, _ *Stage, _ *Function, _ []byte) ([]byte, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
			return nil, errors.New("timeout not applied")
		}
	})
	_, err := Run(context.Background(), w, nil, hang)
	if err == nil || err.Error() != `stage "a": timed out after 20ms: context deadline exceeded` {
		t.Errorf("err = %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err does not wrap DeadlineExceeded: %v", err)
	}

	// A timed-out attempt is retried.
	w.Spec.Stages[0].Retries = 1
	var calls atomic.Int32
	flaky := invokerFunc(func(ctx context.Context, st *Stage, fn *Function, in []byte) ([]byte, error) {
		if calls.Add(1) == 1 {
			return hang(ctx, st, fn, in)
		}
		return []byte("ok"), nil
	})
	res, err := fastEngine().Run(context.Background(), w, nil, flaky)
	if err != nil || string(res.Output) != "ok" || res.Stages[0].Attempts != 2 {
		t.Errorf("retry after timeout: %+v, %v", res, err)
	}
}

func TestRunForeachOrder(t *testing.T) {
	w := graphWorkflow([]string{"split"}, []string{"each", "split"})
	w.Spec.Stages[1].Foreach = "data.items"
	const n = 40
	var items []string
	for i := 1; i <= n; i++ {
		items = append(items, strconv.Itoa(i))
	}
	var cur, peak atomic.Int32
	inv := invokerFunc(func(_ context.Context, st *Stage, _ *Function, in []byte) ([]byte, error) {
		if st.Name == "split" {
			return []byte(`{"data": {"items": [` + joinComma(items) + `]}, "other": 1}`), nil
		}
		c := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		v, err := strconv.Atoi(string(in))
		if err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(n-v) * 100 * time.Microsecond) // finish out of order
		return []byte(strconv.Itoa(v * 2)), nil
	})
	e := &Engine{MaxParallel: 4}
	res, err := e.Run(context.Background(), w, nil, inv)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, strconv.Itoa(2*i))
	}
	if got := string(res.Output); got != "["+joinComma(want)+"]" {
		t.Errorf("output = %s", got)
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("peak concurrency %d exceeds MaxParallel 4", p)
	}
	if res.Stages[1].Attempts != n {
		t.Errorf("foreach attempts = %d, want %d", res.Stages[1].Attempts, n)
	}
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

func TestRunForeachEmpty(t *testing.T) {
	w := graphWorkflow([]string{"each"})
	w.Spec.Stages[0].Foreach = "frames"
	var calls atomic.Int32
	inv := invokerFunc(func(context.Context, *Stage, *Function, []byte) ([]byte, error) {
		calls.Add(1)
		return []byte("x"), nil
	})
	res, err := Run(context.Background(), w, []byte(`{"frames": []}`), inv)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if string(res.Output) != "[]" || calls.Load() != 0 || res.Stages[0].Attempts != 0 {
		t.Errorf("output %q, calls %d, attempts %d", res.Output, calls.Load(), res.Stages[0].Attempts)
	}
}

func TestRunForeachPathProblems(t *testing.T) {
	tests := []struct {
		path, input, want string
	}{
		{"frames", `{"other": []}`, `stage "each": foreach path "frames": not found in stage input`},
		{"data.items", `{"data": 5}`, `stage "each": foreach path "data.items": not found in stage input`},
		{"data.items", `{"data": {}}`, `stage "each": foreach path "data.items": not found in stage input`},
		{"frames", `[1, 2]`, `stage "each": foreach path "frames": stage input is not a JSON object`},
		{"frames", `not json`, `stage "each": foreach path "frames": stage input is not a JSON object`},
		{"frames", `{"frames": {"a": 1}}`, `stage "each": foreach path "frames": not an array in stage input (got an object)`},
		{"frames", `{"frames": null}`, `stage "each": foreach path "frames": not an array in stage input (got null)`},
		{"frames", `{"frames": "abc"}`, `stage "each": foreach path "frames": not an array in stage input (got a string)`},
	}
	for _, tt := range tests {
		w := graphWorkflow([]string{"each"})
		w.Spec.Stages[0].Foreach = tt.path
		_, err := Run(context.Background(), w, []byte(tt.input), wrapInvoker())
		var se *StageError
		if !errors.As(err, &se) || err.Error() != tt.want {
			t.Errorf("foreach %q on %s: err = %v, want %q", tt.path, tt.input, err, tt.want)
		}
	}
}

func TestRunForeachElementFailure(t *testing.T) {
	w := graphWorkflow([]string{"each"})
	w.Spec.Stages[0].Foreach = "xs"
	inv := invokerFunc(func(ctx context.Context, _ *Stage, _ *Function, in []byte) ([]byte, error) {
		if string(in) == `"bad"` {
			return nil, errors.New("bad element")
		}
		select { // the others wait to be cancelled
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
			return nil, errors.New("sibling not cancelled")
		}
	})
	_, err := Run(context.Background(), w, []byte(`{"xs": [1, 2, 3, "bad", 5]}`), inv)
	if err == nil || err.Error() != `stage "each": element 3: bad element` {
		t.Errorf("err = %v", err)
	}
}

func TestRunInvokerPanic(t *testing.T) {
	w := graphWorkflow([]string{"a"})
	inv := invokerFunc(func(context.Context, *Stage, *Function, []byte) ([]byte, error) {
		panic("oops")
	})
	_, err := Run(context.Background(), w, nil, inv)
	if err == nil || err.Error() != `stage "a": invoker panicked: oops` {
		t.Errorf("err = %v", err)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		w    *Workflow
		inv  Invoker
		want string
	}{
		{"nil invoker", context.Background(), graphWorkflow([]string{"a"}), nil, "run workflow: nil invoker"},
		{"nil workflow", context.Background(), nil, wrapInvoker(), "run workflow: nil workflow"},
		{"cycle", context.Background(), graphWorkflow([]string{"a", "b"}, []string{"b", "a"}), wrapInvoker(), "run workflow: cycle: a -> b -> a"},
		{"cancelled", cancelled, graphWorkflow([]string{"a"}), wrapInvoker(), `run workflow "g": context canceled`},
	}
	for _, tt := range tests {
		res, err := Run(tt.ctx, tt.w, nil, tt.inv)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
		if res != nil {
			t.Errorf("%s: result = %+v, want nil", tt.name, res)
		}
	}
}

func TestRunParsedWorkflow(t *testing.T) {
	w, err := Parse("ml.yaml", []byte(mlPipeline))
	if err != nil {
		t.Fatal(err)
	}
	inv := invokerFunc(func(_ context.Context, st *Stage, fn *Function, in []byte) ([]byte, error) {
		if fn.Name != st.Function {
			return nil, fmt.Errorf("stage %s got function %s", st.Name, fn.Name)
		}
		switch st.Name {
		case "preprocess":
			return []byte(`{"frames": ["f1", "f2", "f3"]}`), nil
		case "detect":
			return []byte(`{"frame": ` + string(in) + `}`), nil
		}
		return []byte("count=" + strconv.Itoa(len(in))), nil
	})
	res, err := Run(context.Background(), w, []byte("video"), inv)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// aggregate received [{"frame": "f1"},{"frame": "f2"},{"frame": "f3"}] (49 bytes).
	if got := string(res.Output); got != "count=49" {
		t.Errorf("output = %q", got)
	}
}

func TestBackoffSchedule(t *testing.T) {
	var e Engine
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for i, w := range want {
		if got := e.backoffSchedule().Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("attempt %d: ceiling %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	custom := Engine{BaseBackoff: time.Second, MaxBackoff: 3 * time.Second}
	if got := custom.backoffSchedule().Delay(3); got != 3*time.Second {
		t.Errorf("custom ceiling = %v", got)
	}
	if got := e.backoffSchedule().Delay(1000); got != DefaultMaxBackoff {
		t.Errorf("large attempt ceiling = %v", got)
	}
	for range 1000 {
		if d := custom.backoffSchedule().Jittered(2); d < 0 || d > 2*time.Second {
			t.Fatalf("jittered wait after attempt 2 = %v, want within [0, 2s]", d)
		}
	}
}

func TestRunRetryWaitReportsCause(t *testing.T) {
	w := graphWorkflow([]string{"a"})
	w.Spec.Stages[0].Retries = 1
	cause := errors.New("caller gave up")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	inv := invokerFunc(func(context.Context, *Stage, *Function, []byte) ([]byte, error) {
		return nil, errors.New("down")
	})
	e := &Engine{BaseBackoff: time.Hour, MaxBackoff: time.Hour}
	time.AfterFunc(20*time.Millisecond, func() { cancel(cause) })
	_, err := e.Run(ctx, w, nil, inv)
	var se *StageError
	if !errors.As(err, &se) || !errors.Is(err, cause) {
		t.Fatalf("err = %v, want a *StageError wrapping the context's cause", err)
	}
	if want := "caller gave up (while waiting to retry; last error: down)"; se.Err.Error() != want {
		t.Errorf("stage error = %q, want %q", se.Err, want)
	}
}

func TestStageError(t *testing.T) {
	inner := errors.New("exit 1")
	err := error(&StageError{Stage: "detect", Err: inner})
	if err.Error() != `stage "detect": exit 1` || !errors.Is(err, inner) {
		t.Errorf("StageError = %q", err)
	}
}

package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker"
)

// recordingWorkers is a WorkerCommands that records every command the
// Router gives, as "verb worker [sandbox]", and runs sandboxes as paths of
// one local HTTP server: POST /sb/ID/ answers "ID:" and the body, after
// waiting on hold when the body is "hold".
type recordingWorkers struct {
	srv  *httptest.Server
	hold chan struct{}

	mu        sync.Mutex
	log       []string
	next      int
	createErr error                 // the next creations fail with it
	verify    func(id string) error // nil: every connection is the sandbox's
	holding   chan struct{}         // receives when a call starts to hold
	answer    string                // when set, every call answers it
}

func newRecordingWorkers(t *testing.T) *recordingWorkers {
	w := &recordingWorkers{hold: make(chan struct{}), holding: make(chan struct{}, 16)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		id := strings.Trim(strings.TrimPrefix(req.URL.Path, "/sb/"), "/")
		body, _ := io.ReadAll(req.Body)
		w.mu.Lock()
		answer := w.answer
		w.mu.Unlock()
		if answer != "" {
			io.WriteString(rw, answer)
			return
		}
		if string(body) == "hold" {
			w.holding <- struct{}{}
			select {
			case <-w.hold:
			case <-req.Context().Done():
				return
			}
		}
		fmt.Fprintf(rw, "%s:%s", id, body)
	}))
	t.Cleanup(func() { close(w.hold); w.srv.Close() })
	return w
}

func (w *recordingWorkers) record(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, fmt.Sprintf(format, args...))
}

// commands returns the recorded commands with the verbs given, in order.
func (w *recordingWorkers) commands(verbs ...string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, c := range w.log {
		if slices.Contains(verbs, strings.Fields(c)[0]) {
			out = append(out, c)
		}
	}
	return out
}

func (w *recordingWorkers) Reserve(req decide.PlacementRequest, _ time.Time) (string, error) {
	w.record("reserve w1")
	return "w1", nil
}
func (w *recordingWorkers) ReserveOn(id string, _ decide.PlacementRequest) {
	w.record("reserve-on %s", id)
}
func (w *recordingWorkers) Release(id string, _ decide.PlacementRequest) { w.record("release %s", id) }
func (w *recordingWorkers) Suspect(id string, _ time.Time)               { w.record("suspect %s", id) }

func (w *recordingWorkers) SendCreate(workerID string, spec worker.SandboxSpec) (CreateCall, error) {
	w.mu.Lock()
	err := w.createErr
	w.mu.Unlock()
	w.record("create %s %s", workerID, spec.ID)
	sb := worker.Sandbox{ID: spec.ID, Function: spec.Function, Image: spec.Image, CPUMilli: spec.CPUMilli,
		MemoryBytes: spec.MemoryBytes, Endpoint: w.srv.URL + "/sb/" + spec.ID}
	return doneCreate{sb: sb, err: err}, nil
}

func (w *recordingWorkers) Delete(_ context.Context, workerID, id string) error {
	w.record("delete %s %s", workerID, id)
	return nil
}

func (w *recordingWorkers) Verify(_ context.Context, workerID, id string, _ worker.Conn) error {
	w.record("verify %s %s", workerID, id)
	w.mu.Lock()
	f := w.verify
	w.mu.Unlock()
	if f != nil {
		return f(id)
	}
	return nil
}

// doneCreate is a creation the worker has answered.
type doneCreate struct {
	sb  worker.Sandbox
	err error
}

func (d doneCreate) Wait(context.Context, time.Duration) error { return nil }
func (d doneCreate) Result() (worker.Sandbox, error) {
	if d.err != nil {
		return worker.Sandbox{}, d.err
	}
	return d.sb, nil
}

const testKey = "t/w/f"

func newTestRouter(t *testing.T, idempotent bool) (*Router, *recordingWorkers) {
	w := newRecordingWorkers(t)
	bg, stop := context.WithCancel(context.Background())
	r := NewRouter(bg, w, RouterConfig{HealthTimeout: time.Second})
	t.Cleanup(func() { stop(); r.Wait() })
	r.Configure(FunctionConfig{Key: testKey, Image: "img", CPUMilli: 100, MemoryBytes: 64 << 20, Idempotent: idempotent})
	return r, w
}

// invokeAsync runs Invoke in the background.
func invokeAsync(r *Router, input string) <-chan invokeResult {
	ch := make(chan invokeResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, st, err := r.Invoke(ctx, testKey, []byte(input))
		ch <- invokeResult{string(out), st, err}
	}()
	return ch
}

type invokeResult struct {
	out string
	st  StageStats
	err error
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func (r *Router) waiting(key string) int {
	for _, ps := range r.PoolStates() {
		if ps.Function == key {
			return ps.Waiting
		}
	}
	return 0
}

func (r *Router) idle(key string) int {
	for _, ps := range r.PoolStates() {
		if ps.Function == key {
			return len(ps.Idle)
		}
	}
	return 0
}

// TestRouterQueuesUntilACreationHandsASandbox: a request with no sandbox
// waits in the queue (and wakes the autoscaler), the creation the plan
// asks for is granted to it cold, and the next request takes the same
// sandbox warm without a new creation.
func TestRouterQueuesUntilACreationHandsASandbox(t *testing.T) {
	r, w := newTestRouter(t, false)
	res := invokeAsync(r, "a")
	waitFor(t, "the request queues", func() bool { return r.waiting(testKey) == 1 })
	select {
	case <-r.Wake():
	default:
		t.Error("a queued request did not wake the autoscaler")
	}
	r.Apply(decide.ScalePlan{Create: map[string]int{testKey: 1}})
	got := <-res
	if got.err != nil || !strings.HasSuffix(got.out, ":a") || !got.st.Cold || got.st.WorkerID != "w1" {
		t.Fatalf("first invocation: %+v, want a cold answer from w1", got)
	}
	again := <-invokeAsync(r, "b")
	if again.err != nil || again.st.Cold || again.st.SandboxID != got.st.SandboxID {
		t.Fatalf("second invocation: %+v, want the same sandbox warm", again)
	}
	if c := w.commands("create", "verify"); len(c) != 2 {
		t.Errorf("commands %v, want one creation and one connection check (the connection is kept)", c)
	}
}

// TestRouterFailedCreationFailsTheWaiterWhenNothingElseCan: a creation
// that fails gives its reservation back and fails the queued request,
// since no other sandbox or creation can serve it.
func TestRouterFailedCreationFailsTheWaiterWhenNothingElseCan(t *testing.T) {
	r, w := newTestRouter(t, false)
	boom := errors.New("image pull failed")
	w.mu.Lock()
	w.createErr = boom
	w.mu.Unlock()
	res := invokeAsync(r, "a")
	waitFor(t, "the request queues", func() bool { return r.waiting(testKey) == 1 })
	r.Apply(decide.ScalePlan{Create: map[string]int{testKey: 1}})
	if got := <-res; !errors.Is(got.err, boom) {
		t.Fatalf("invocation: %+v, want the creation's error", got)
	}
	if c := w.commands("release"); len(c) != 1 {
		t.Errorf("releases %v, want the failed creation's reservation back", c)
	}
}

// TestRouterIdentityFailurePassesToAnotherSandbox: a sandbox whose
// connection fails its check is deleted and the request goes, without
// spending an attempt, to another sandbox.
func TestRouterIdentityFailurePassesToAnotherSandbox(t *testing.T) {
	r, w := newTestRouter(t, false)
	r.Apply(decide.ScalePlan{Create: map[string]int{testKey: 2}})
	waitFor(t, "two idle sandboxes", func() bool { return r.idle(testKey) == 2 })
	var bad string
	w.mu.Lock()
	w.verify = func(id string) error {
		if bad == "" {
			bad = id
		}
		if id == bad {
			return fmt.Errorf("sandbox %s: %w", id, worker.ErrIdentity)
		}
		return nil
	}
	w.mu.Unlock()
	got := <-invokeAsync(r, "a")
	if got.err != nil || got.st.SandboxID == bad || !strings.HasSuffix(got.out, ":a") {
		t.Fatalf("invocation: %+v, want an answer from the sandbox that was not %s", got, bad)
	}
	r.Wait()
	if c := w.commands("delete"); len(c) != 1 || !strings.HasSuffix(c[0], bad) {
		t.Errorf("deletions %v, want %s's", c, bad)
	}
	if n := r.IdentityFailures(); n != 1 {
		t.Errorf("IdentityFailures() = %d, want 1", n)
	}
}

// TestRouterWorkerLostMidCall: a call in flight on a worker declared
// dead is cut; an idempotent function's request is made again on a new
// sandbox, another's fails naming the lost worker.
func TestRouterWorkerLostMidCall(t *testing.T) {
	for _, idempotent := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent %v", idempotent), func(t *testing.T) {
			r, w := newTestRouter(t, idempotent)
			r.Apply(decide.ScalePlan{Create: map[string]int{testKey: 1}})
			waitFor(t, "an idle sandbox", func() bool { return r.idle(testKey) == 1 })
			res := invokeAsync(r, "hold")
			<-w.holding
			if n := r.DropWorker("w1"); n != 1 {
				t.Fatalf("DropWorker = %d, want 1", n)
			}
			if !idempotent {
				if got := <-res; got.err == nil || !errors.Is(got.err, errWorkerLost) {
					t.Fatalf("invocation: %+v, want the lost worker's error", got)
				}
				return
			}
			waitFor(t, "the request queues again", func() bool { return r.waiting(testKey) == 1 })
			w.mu.Lock()
			w.answer = "again"
			w.mu.Unlock()
			r.Apply(decide.ScalePlan{Create: map[string]int{testKey: 1}})
			if got := <-res; got.err != nil || got.out != "again" {
				t.Fatalf("invocation: %+v, want it served again on a new sandbox", got)
			}
		})
	}
}

// TestRouterRetiresSandboxes: idle sandboxes go when the plan names them,
// when their function's configuration changes (an older generation), and
// when the function is removed; queued requests of a removed function
// fail with ErrFunctionRemoved.
func TestRouterRetiresSandboxes(t *testing.T) {
	r, w := newTestRouter(t, false)
	r.Apply(decide.ScalePlan{Create: map[string]int{testKey: 3}})
	waitFor(t, "three idle sandboxes", func() bool { return r.idle(testKey) == 3 })
	var ids []string
	for _, ps := range r.PoolStates() {
		for _, sb := range ps.Idle {
			ids = append(ids, sb.ID)
		}
	}
	r.Apply(decide.ScalePlan{Delete: map[string][]string{testKey: {ids[0]}}})
	r.Wait()
	if c := w.commands("delete"); len(c) != 1 || !strings.HasSuffix(c[0], ids[0]) {
		t.Fatalf("deletions after the plan %v, want %s's", c, ids[0])
	}
	r.Configure(FunctionConfig{Key: testKey, Image: "img", CPUMilli: 200, MemoryBytes: 64 << 20})
	r.Wait()
	if c := w.commands("delete"); len(c) != 3 || r.idle(testKey) != 0 {
		t.Fatalf("after a reconfiguration: deletions %v, %d idle; want the two older ones gone", c, r.idle(testKey))
	}
	res := invokeAsync(r, "a")
	waitFor(t, "the request queues", func() bool { return r.waiting(testKey) == 1 })
	r.Remove(testKey)
	if got := <-res; !errors.Is(got.err, ErrFunctionRemoved) {
		t.Fatalf("a request queued for a removed function: %+v, want ErrFunctionRemoved", got)
	}
	if c := w.commands("release"); len(c) != 3 {
		t.Errorf("releases %v, want one for each deleted sandbox", c)
	}
}

// TestRouterDropWorkerDropsOnlyItsSandboxes: with sandboxes on several
// workers, dropping one worker drops its sandboxes alone (from the pool
// and the counts), whichever way the others came and went.
func TestRouterDropWorkerDropsOnlyItsSandboxes(t *testing.T) {
	r, _ := newTestRouter(t, false)
	r.mu.Lock()
	p := r.pools[testKey]
	var refs []*sandboxRef
	for i, w := range []string{"a", "b", "a", "c", "a", "b"} {
		sb := &sandboxRef{pool: p, sb: worker.Sandbox{ID: fmt.Sprintf("sb%d", i), Function: testKey}, workerID: w}
		r.trackLocked(sb)
		p.idle = append(p.idle, sb)
		refs = append(refs, sb)
	}
	r.forgetLocked(refs[5]) // b's second goes the ordinary way
	p.idle = p.idle[:5]
	r.mu.Unlock()
	for _, tt := range []struct {
		drop      string
		wantDrop  int
		wantCount map[string]int
		wantIdle  int
	}{
		{"a", 3, map[string]int{"a": 0, "b": 1, "c": 1}, 2},
		{"a", 0, map[string]int{"a": 0, "b": 1, "c": 1}, 2},
		{"c", 1, map[string]int{"a": 0, "b": 1, "c": 0}, 1},
		{"b", 1, map[string]int{"a": 0, "b": 0, "c": 0}, 0},
	} {
		if n := r.DropWorker(tt.drop); n != tt.wantDrop {
			t.Fatalf("DropWorker(%s) = %d, want %d", tt.drop, n, tt.wantDrop)
		}
		for w, want := range tt.wantCount {
			if got := r.CountOn(w); got != want {
				t.Errorf("after dropping %s: CountOn(%s) = %d, want %d", tt.drop, w, got, want)
			}
		}
		if got := r.idle(testKey); got != tt.wantIdle {
			t.Errorf("after dropping %s: %d idle, want %d", tt.drop, got, tt.wantIdle)
		}
	}
}

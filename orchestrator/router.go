package orchestrator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker"
	"baton.dev/baton/workflow"
)

// FunctionConfig is how the sandboxes of one function are made.
type FunctionConfig struct {
	// Key is "tenant/workflow/function".
	Key         string
	Image       string
	CPUMilli    int64
	MemoryBytes int64
	Env         map[string]string
	// Idempotent says a call may be repeated on another sandbox after a
	// failure that may have happened mid-call (its worker died).
	Idempotent bool
	// Queue bounds the function's queue (the workflow's spec.queue);
	// zero fields keep the router's MaxQueue and MaxQueueWait. A change
	// of it alone keeps the sandboxes.
	Queue workflow.Queue
	// Privileges are what its sandboxes are granted (egress,
	// capabilities, root), as the operator allowed at deploy.
	Privileges worker.Privileges
}

func (c FunctionConfig) equal(o FunctionConfig) bool {
	return c.Key == o.Key && c.Image == o.Image && c.CPUMilli == o.CPUMilli &&
		c.MemoryBytes == o.MemoryBytes && maps.Equal(c.Env, o.Env) && c.Idempotent == o.Idempotent &&
		c.Privileges.Equal(o.Privileges)
}

// sameSandbox reports whether a sandbox made for o can serve c.
func (c FunctionConfig) sameSandbox(sb worker.Sandbox) bool {
	return c.Key == sb.Function && c.Image == sb.Image && c.CPUMilli == sb.CPUMilli && c.MemoryBytes == sb.MemoryBytes
}

// errWorkerLost is the cause of calls cut short because their sandbox's
// worker was declared dead.
var errWorkerLost = errors.New("the sandbox's worker was lost")

// maxAttempts bounds the calls one request makes when calls fail in a
// way that allows another try.
const maxAttempts = 3

// maxUnsent bounds the sandboxes one request passes over, beyond its
// attempts, because they refused its connection or the connection failed
// its identity check: the input was sent to none of them.
const maxUnsent = 8

// ErrFunctionRemoved is returned to requests queued for a function whose
// workflow was deleted or redeployed away.
var ErrFunctionRemoved = errors.New("function removed")

// FunctionError is a function's own failure: a non-2xx answer, or a
// connection that broke because the function crashed.
type FunctionError struct {
	Status int    // HTTP status; 0 when the connection failed
	Body   string // the start of the answer, for the message
	Err    error  // the transport error when Status is 0
	// OutOfMemory says the kernel killed the function because its
	// sandbox reached its memory limit (the connection failed: Status
	// is 0); Function names it and MemoryBytes is the limit.
	OutOfMemory bool
	Function    string
	MemoryBytes int64
}

func (e *FunctionError) Error() string {
	if e.OutOfMemory {
		limit := ""
		if e.MemoryBytes > 0 {
			limit = " (limit " + formatBytes(e.MemoryBytes) + ")"
		}
		return fmt.Sprintf("function %s ran out of memory%s and was killed", e.Function, limit)
	}
	if e.Status == 0 {
		return fmt.Sprintf("function did not answer (it crashed or closed the connection): %v", e.Err)
	}
	return fmt.Sprintf("function answered %d: %s", e.Status, e.Body)
}

func (e *FunctionError) Unwrap() error { return e.Err }

// StageStats is how one call through the router was spent.
type StageStats struct {
	Queued    time.Duration // waiting for a sandbox
	Exec      time.Duration // the function's own time, seen from here
	Cold      bool          // the request waited for a sandbox created for it
	ColdStart worker.ColdStart
	SandboxID string
	WorkerID  string
	// The sandbox's resources, for the cost of the call.
	CPUMilli, MemoryBytes int64
}

// Router is the data plane: it queues each request for a sandbox of its
// function, forwards it, and hands sandboxes back. A request that finds no
// idle sandbox waits in its function's queue until the Autoscaler's creation
// or a finishing request hands it one.
type Router struct {
	workers       WorkerCommands
	log           *slog.Logger
	healthTimeout time.Duration
	pullAuth      func(key, image string) *worker.PullAuth
	maxPayload    int64
	maxQueue      int
	maxQueueWait  time.Duration
	events        func(history.SandboxEvent)
	bg            context.Context // lifetime of creations and deletions
	wake          chan struct{}

	// deleting counts deletions sent and not yet confirmed: their room
	// stays reserved until the worker confirms, and a creation the plan
	// made that room for waits for it (reserve). freed is closed, and
	// made anew, at each confirmation.
	deleting atomic.Int64
	freedMu  sync.Mutex
	freed    chan struct{}

	// skipCheck turns off the check of connections dialled to sandboxes
	// (SetIdentityCheck; benchmarks only). checks counts the connections
	// checked, identityFailures those that failed.
	skipCheck                atomic.Bool
	checks, identityFailures atomic.Int64

	mu    sync.Mutex
	pools map[string]*pool
	all   map[string]*sandboxRef // every sandbox in a pool, idle or busy, by ID
	// onWorker counts the sandboxes in r.all by worker, for CountOn. It
	// has a lock of its own (writers hold r.mu too): CountOn runs for
	// every full heartbeat, and at 10,000 workers waiting for r.mu behind
	// a burst of creations put the heartbeats seconds behind.
	onWorkerMu sync.Mutex
	onWorker   map[string]int
	// byWorker holds the sandboxes of r.all by worker, so that dropping a
	// lost worker's walks its own (r.all has every worker's: at 100,000
	// sandboxes a scan of it per lost worker held r.mu for seconds).
	byWorker map[string]map[string]*sandboxRef
	pending  map[string]bool // IDs being created: not orphans
	tasks    sync.WaitGroup
	sending  chan struct{} // maxSending tokens: creations placing and sending
}

type pool struct {
	cfg      FunctionConfig
	gen      int // bumped when cfg changes; older sandboxes retire
	removed  bool
	idle     []*sandboxRef // a stack: the most recently used on top
	busy     int
	creating int
	floor    int
	waiters  []*waiter // FIFO
	// arrivals counts the requests the pool has been asked for.
	arrivals uint64
	// meanExec and coldStart are moving averages of the pool's call and
	// cold-start times, for the autoscaler's queueNeed.
	meanExec  time.Duration
	coldStart time.Duration
	// claims counts the sandboxes chain warming promised to invocations'
	// stages that have not started (ClaimWarm).
	claims int
	// unplaceable counts the creations the pool's demand wants that no
	// worker has room for (decide.FitPlan); unplaceableSince is when it
	// became so (zero: placeable), unplaceableArrivals the arrivals then.
	unplaceable         int
	unplaceableSince    time.Time
	unplaceableArrivals uint64
	unplaceableSaid     bool // the shortage was logged (it outlasted shortageSaidAfter)
	// yield counts busy sandboxes to retire when their call ends, rather
	// than serve this pool's queue: another tenant's demand needs their
	// room (decide.FitPlan's Yield).
	yield int
}

// ewma folds sample x into the moving average avg (weight 1/5).
func ewma(avg, x time.Duration) time.Duration {
	if avg == 0 {
		return x
	}
	return avg + (x-avg)/5
}

type sandboxRef struct {
	pool     *pool
	sb       worker.Sandbox
	workerID string
	gen      int
	lastUsed time.Time
	res      decide.PlacementRequest
	// life ends, with errWorkerLost, when the worker is declared dead:
	// calls in flight on the sandbox are cut short.
	life    context.Context
	endLife context.CancelCauseFunc
	lost    bool
	// conn is the kept connection to the sandbox, used by the call that
	// holds the sandbox (nil: none yet).
	conn *sandboxConn
}

type waiter struct {
	ch    chan grant
	since time.Time // when it queued
}

type grant struct {
	sb   *sandboxRef
	cold bool
	err  error
}

// RouterConfig configures a Router.
type RouterConfig struct {
	// HealthTimeout bounds a sandbox's start (default 30s).
	HealthTimeout time.Duration
	// MaxPayload bounds a function's answer (default 16 MiB).
	MaxPayload int64
	// Events, when set, receives sandbox life-cycle events (history). It
	// must not block.
	Events func(history.SandboxEvent)
	// PullAuth, when set, gives the login a creation of function key's
	// image sends its worker for the pull (nil: none).
	PullAuth func(key, image string) *worker.PullAuth
	// MaxQueue bounds each function's waiting requests and MaxQueueWait
	// how long one waits; beyond either a request is refused with an
	// OverloadError (503 with Retry-After). Zero: no bound.
	MaxQueue     int
	MaxQueueWait time.Duration
	Logger       *slog.Logger
}

// NewRouter returns a Router. bg bounds the life of the sandbox creations
// and deletions it starts.
func NewRouter(bg context.Context, workers WorkerCommands, cfg RouterConfig) *Router {
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 30 * time.Second
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = 16 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Events == nil {
		cfg.Events = func(history.SandboxEvent) {}
	}
	return &Router{
		workers:       workers,
		log:           cfg.Logger,
		healthTimeout: cfg.HealthTimeout,
		pullAuth:      cfg.PullAuth,
		maxPayload:    cfg.MaxPayload,
		maxQueue:      cfg.MaxQueue,
		maxQueueWait:  cfg.MaxQueueWait,
		events:        cfg.Events,
		bg:            bg,
		wake:          make(chan struct{}, 1),
		freed:         make(chan struct{}),
		pools:         map[string]*pool{},
		all:           map[string]*sandboxRef{},
		onWorker:      map[string]int{},
		byWorker:      map[string]map[string]*sandboxRef{},
		pending:       map[string]bool{},
		sending:       make(chan struct{}, maxSending),
	}
}

// track makes sb known to the router. The caller holds r.mu.
func (r *Router) trackLocked(sb *sandboxRef) {
	sb.life, sb.endLife = context.WithCancelCause(context.WithoutCancel(r.bg))
	r.all[sb.sb.ID] = sb
	on := r.byWorker[sb.workerID]
	if on == nil {
		on = map[string]*sandboxRef{}
		r.byWorker[sb.workerID] = on
	}
	on[sb.sb.ID] = sb
	r.onWorkerMu.Lock()
	r.onWorker[sb.workerID]++
	r.onWorkerMu.Unlock()
}

// forget drops sb from the router's knowledge. The caller holds r.mu.
func (r *Router) forgetLocked(sb *sandboxRef) {
	if _, ok := r.all[sb.sb.ID]; ok {
		if on := r.byWorker[sb.workerID]; on != nil {
			if delete(on, sb.sb.ID); len(on) == 0 {
				delete(r.byWorker, sb.workerID)
			}
		}
		r.onWorkerMu.Lock()
		if r.onWorker[sb.workerID]--; r.onWorker[sb.workerID] <= 0 {
			delete(r.onWorker, sb.workerID)
		}
		r.onWorkerMu.Unlock()
	}
	delete(r.all, sb.sb.ID)
	if sb.endLife != nil {
		sb.endLife(nil)
	}
}

// Wake returns the channel the Router signals when a request queues, so the
// Autoscaler can act at once instead of at its next tick.
func (r *Router) Wake() <-chan struct{} { return r.wake }

// Configure adds a function or changes its configuration. Sandboxes made
// with an older configuration are retired: idle ones at once, busy ones
// when their request ends.
func (r *Router) Configure(cfg FunctionConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pools[cfg.Key]
	if !ok {
		r.pools[cfg.Key] = &pool{cfg: cfg}
		return
	}
	if p.cfg.equal(cfg) {
		p.cfg.Queue = cfg.Queue // not the sandboxes' business
		return
	}
	p.cfg = cfg
	p.gen++
	r.retireIdleLocked(p)
}

// Remove drops a function: queued requests fail with ErrFunctionRemoved,
// idle sandboxes are deleted, busy ones when their request ends.
func (r *Router) Remove(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pools[key]
	if !ok {
		return
	}
	p.removed = true
	delete(r.pools, key)
	r.retireIdleLocked(p)
	for _, w := range p.waiters {
		w.ch <- grant{err: fmt.Errorf("%s: %w", key, ErrFunctionRemoved)}
	}
	p.waiters = nil
}

func (r *Router) retireIdleLocked(p *pool) {
	for _, sb := range p.idle {
		r.deleteAsync(sb)
	}
	p.idle = nil
}

// Invoke runs one request on a sandbox of function key and returns the
// function's answer. A call is made again on another sandbox, up to
// maxAttempts calls, when it cannot have reached the function (the
// connection was refused), or when the function is idempotent and no
// answer came back (the sandbox died, or its worker was lost, mid-call).
func (r *Router) Invoke(ctx context.Context, key string, input []byte) ([]byte, StageStats, error) {
	var st StageStats
	for attempt, unsent := 1, 0; ; {
		out, retry, err := r.invokeOnce(ctx, key, input, &st)
		if err == nil || !retry || ctx.Err() != nil {
			return out, st, err
		}
		// A sandbox that refused the connection, or whose connection
		// failed its check, was never sent the input: going to another
		// is not an attempt. (A worker that died or restarted leaves
		// several such sandboxes routed until it is noticed.)
		if (isCheckError(err) || isDialError(err)) && unsent < maxUnsent {
			unsent++
			continue
		}
		if attempt == maxAttempts {
			return out, st, err
		}
		attempt++
		r.log.Info("calling again on another sandbox", "function", key, "attempt", attempt, "err", err)
	}
}

// invokeOnce makes one call, adding its times to st, and says whether a
// failure allows another try.
func (r *Router) invokeOnce(ctx context.Context, key string, input []byte, st *StageStats) ([]byte, bool, error) {
	start := time.Now()
	g, err := r.acquire(ctx, key)
	st.Queued += time.Since(start)
	if err != nil {
		return nil, false, err
	}
	st.Cold, st.SandboxID, st.WorkerID = st.Cold || g.cold, g.sb.sb.ID, g.sb.workerID
	st.CPUMilli, st.MemoryBytes = g.sb.res.CPUMilli, g.sb.res.MemoryBytes
	if g.cold {
		st.ColdStart = g.sb.sb.ColdStart
	}
	callCtx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(g.sb.life, func() { cancel(context.Cause(g.sb.life)) })
	execStart := time.Now()
	out, err := r.call(callCtx, g.sb, input)
	st.Exec += time.Since(execStart)
	stop()
	lost := errors.Is(context.Cause(callCtx), errWorkerLost)
	cancel(nil)
	if lost && ctx.Err() == nil {
		err = &FunctionError{Err: fmt.Errorf("%w (worker %s)", errWorkerLost, g.sb.workerID)}
	}
	// A sandbox that crashed, failed with a 5xx or was abandoned mid-request
	// is replaced; a 4xx is the input's fault and the sandbox stays.
	var fe *FunctionError
	if err != nil && !lost && errors.As(err, &fe) && fe.Status == 0 {
		r.explainExit(ctx, g.sb, fe) // before the sandbox is deleted
	}
	healthy := err == nil || (errors.As(err, &fe) && fe.Status >= 400 && fe.Status < 500)
	if err != nil && isCheckError(err) {
		// Taken out of rotation and deleted; the request goes to another
		// sandbox.
		if errors.Is(err, worker.ErrIdentity) {
			r.identityFailures.Add(1)
			r.log.Error("a sandbox failed its identity check: something else answers at its address; deleting it and calling another",
				"function", key, "sandbox", g.sb.sb.ID, "worker", g.sb.workerID, "endpoint", g.sb.sb.Endpoint, "err", err)
		} else {
			r.log.Warn("could not check a sandbox's connection; replacing it", "function", key, "sandbox", g.sb.sb.ID, "worker", g.sb.workerID, "err", err)
		}
		r.release(g.sb, false, 0)
		return nil, true, err
	}
	r.release(g.sb, healthy, time.Since(execStart))
	if err == nil {
		return out, false, nil
	}
	// Another try: when the call cannot have reached the function, or
	// when the function is idempotent and got no answer out (its sandbox
	// or worker died mid-call); never after the function answered, nor
	// after it ran out of memory (the input would do that again).
	notRun := isDialError(err)
	noAnswer := lost || (errors.As(err, &fe) && fe.Status == 0 && !fe.OutOfMemory)
	return out, notRun || (noAnswer && g.sb.pool.cfg.Idempotent), err
}

// exitAsker is a WorkerCommands that can ask a worker why a sandbox
// stopped answering (*Workers can).
type exitAsker interface {
	Exit(ctx context.Context, workerID, sandboxID string) (worker.ExitReason, error)
}

// exitTimeout bounds the worker's answer to why a sandbox stopped
// answering.
const exitTimeout = 2 * time.Second

// explainExit asks sb's worker why sb's function broke off a call without
// an answer and, when the kernel killed it for reaching its memory limit,
// says so in fe. A worker that cannot tell, or does not answer in time,
// leaves fe as it is. Only failed calls ask.
func (r *Router) explainExit(ctx context.Context, sb *sandboxRef, fe *FunctionError) {
	ea, ok := r.workers.(exitAsker)
	if !ok || ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, exitTimeout)
	defer cancel()
	reason, err := ea.Exit(ctx, sb.workerID, sb.sb.ID)
	if err != nil {
		r.log.Warn("could not learn why a sandbox stopped answering", "function", sb.sb.Function, "sandbox", sb.sb.ID, "worker", sb.workerID, "err", err)
		return
	}
	if reason.OutOfMemory {
		name := sb.sb.Function[strings.LastIndex(sb.sb.Function, "/")+1:] // "tenant/workflow/function"
		fe.OutOfMemory, fe.Function, fe.MemoryBytes = true, name, sb.sb.MemoryBytes
		r.log.Info("a function ran out of memory and was killed", "function", sb.sb.Function, "sandbox", sb.sb.ID,
			"worker", sb.workerID, "memory_bytes", sb.sb.MemoryBytes)
	}
}

// formatBytes writes a memory size in the units a person set it in:
// "64 MiB", "2 GiB", or bytes.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// isCheckError reports whether err is a connection that failed its
// identity check (checkError).
func isCheckError(err error) bool {
	var ce *checkError
	return errors.As(err, &ce)
}

// isDialError reports whether err is a failure to connect: the request
// never reached the function.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (r *Router) acquire(ctx context.Context, key string) (grant, error) {
	r.mu.Lock()
	p, ok := r.pools[key]
	if !ok {
		r.mu.Unlock()
		return grant{}, fmt.Errorf("function %s: %w", key, ErrFunctionRemoved)
	}
	p.arrivals++
	if n := len(p.idle); n > 0 {
		sb := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.busy++
		r.mu.Unlock()
		return grant{sb: sb}, nil
	}
	maxQueue, queueBound := r.maxQueue, "--max-queue"
	if q := p.cfg.Queue.MaxWaiting; q > 0 {
		maxQueue, queueBound = q, "spec.queue.maxWaiting"
	}
	maxWait, waitBound := r.maxQueueWait, "--max-queue-wait"
	if q := p.cfg.Queue.MaxWait; q > 0 {
		maxWait, waitBound = q, "spec.queue.maxWait"
	}
	if maxQueue > 0 && len(p.waiters) >= maxQueue {
		err := r.overloadedLocked(key, p, fmt.Sprintf("its queue holds the most requests it may (%d, %s)", maxQueue, queueBound))
		r.mu.Unlock()
		return grant{}, err
	}
	w := &waiter{ch: make(chan grant, 1), since: time.Now()}
	p.waiters = append(p.waiters, w)
	r.mu.Unlock()
	r.signal()
	var expired <-chan time.Time
	if maxWait > 0 {
		t := time.NewTimer(maxWait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case g := <-w.ch:
		return g, g.err
	case <-expired:
		return r.leaveQueue(key, p, w, func() error {
			return r.overloadedLocked(key, p, fmt.Sprintf("a request waited %s for a sandbox (%s)", maxWait, waitBound))
		})
	case <-ctx.Done():
		return r.leaveQueue(key, p, w, func() error { return fmt.Errorf("waiting for a sandbox of %s: %w", key, ctx.Err()) })
	}
}

// leaveQueue takes w out of p's queue and returns why() (called with r.mu
// held). A grant that raced the leaving is handed back.
func (r *Router) leaveQueue(key string, p *pool, w *waiter, why func() error) (grant, error) {
	r.mu.Lock()
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			err := why()
			r.mu.Unlock()
			return grant{}, err
		}
	}
	err := why()
	r.mu.Unlock()
	if g := <-w.ch; g.err == nil {
		r.release(g.sb, true, 0)
	}
	return grant{}, err
}

// OverloadError is a request refused because its function's queue is at
// its bounds: 503, with RetryAfter (from the queue's drain rate) as the
// answer's Retry-After.
type OverloadError struct {
	Function   string
	Msg        string
	RetryAfter time.Duration
}

func (e *OverloadError) retryIn() time.Duration { return e.RetryAfter }

func (e *OverloadError) Error() string {
	return fmt.Sprintf("function %s is overloaded: %s; retry after %s", e.Function, e.Msg, e.RetryAfter.Round(time.Millisecond))
}

// overloadedLocked is the refusal of a request to p, with when to retry:
// the time p's sandboxes take to serve its queue (its waiting requests
// over the rate they complete: sandboxes serving over the mean call),
// between 1s and a minute; a pool with nothing serving says a cold start,
// or 5s when its demand has no room.
func (r *Router) overloadedLocked(key string, p *pool, msg string) *OverloadError {
	wait := 5 * time.Second
	serving := p.busy + p.creating
	switch {
	case serving > 0 && p.meanExec > 0:
		wait = time.Duration(float64(len(p.waiters)+1) * float64(p.meanExec) / float64(serving))
	case p.unplaceable == 0 && p.coldStart > 0:
		wait = p.coldStart
	}
	return &OverloadError{Function: key, Msg: msg, RetryAfter: min(max(wait, time.Second), time.Minute)}
}

// signal wakes the Autoscaler without blocking.
func (r *Router) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// release hands sb back after a call that took exec (0: no call).
func (r *Router) release(sb *sandboxRef, healthy bool, exec time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := sb.pool
	if exec > 0 && healthy {
		p.meanExec = ewma(p.meanExec, exec)
	}
	if sb.lost {
		p.busy--
		if len(p.waiters) > 0 {
			r.signal()
		}
		sb.closeConn()
		return // forgotten when its worker was lost; nothing to delete
	}
	if p.removed || p.gen != sb.gen || !healthy {
		p.busy--
		if len(p.waiters) > 0 {
			r.signal() // the queue needs a replacement
		}
		r.deleteAsync(sb)
		return
	}
	if p.yield > 0 {
		// Another tenant's queue needs this room more (a fair share):
		// the sandbox goes, and the next plan gives its room away.
		p.yield--
		p.busy--
		r.deleteAsync(sb)
		r.signal()
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w.ch <- grant{sb: sb}
		return
	}
	p.busy--
	sb.lastUsed = time.Now()
	p.idle = append(p.idle, sb)
}

// SetYield records, per pool, how many busy sandboxes to retire when
// their call ends (decide.FitPlan's Yield); pools not named retire none.
func (r *Router) SetYield(yield map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, p := range r.pools {
		p.yield = yield[key]
	}
}

// call posts input to the sandbox the caller holds, on its kept
// connection. A connection dialled for it is first checked with the
// sandbox's worker (verifyConn); one that fails gives a *checkError and
// carries nothing.
func (r *Router) call(ctx context.Context, sb *sandboxRef, input []byte) ([]byte, error) {
	status, body, conn, err := post(ctx, sb.conn, sb.sb.Endpoint, input, r.maxPayload, connCheck{r, sb})
	sb.conn = conn
	if err != nil && isCheckError(err) {
		return nil, err
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &FunctionError{Err: err}
	}
	if status < 200 || status > 299 {
		msg := body
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return nil, &FunctionError{Status: status, Body: string(bytes.TrimSpace(msg))}
	}
	if int64(len(body)) > r.maxPayload {
		return nil, fmt.Errorf("function answer is larger than the %d-byte limit", r.maxPayload)
	}
	return body, nil
}

// verifyTimeout bounds the worker's answer to a connection check.
const verifyTimeout = 2 * time.Second

// verifyConn asks sb's worker whether the connection c, dialled to sb's
// endpoint, ends in sb (worker.Runtime.Verify): the worker reads the
// kernel's socket table of the sandbox, which the function's code cannot
// forge. Anything else answering at a reused address fails it.
func (r *Router) verifyConn(ctx context.Context, sb *sandboxRef, c net.Conn) error {
	r.checks.Add(1)
	conn, err := worker.ConnOf(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	return r.workers.Verify(ctx, sb.workerID, sb.sb.ID, conn)
}

// SetIdentityCheck turns the check of each connection dialled to a
// sandbox (verifyConn) on, as it starts, or off. Off is for benchmarks
// that measure the check's cost, only: without it, a reused address can
// send one function's input to another's code.
func (r *Router) SetIdentityCheck(on bool) { r.skipCheck.Store(!on) }

// ConnectionChecks counts the connections to sandboxes checked so far.
func (r *Router) ConnectionChecks() int64 { return r.checks.Load() }

// IdentityFailures counts the connections to sandboxes that something
// other than the sandbox held.
func (r *Router) IdentityFailures() int64 { return r.identityFailures.Load() }

// PoolStates is the read-only snapshot the Autoscaler decides on.
func (r *Router) PoolStates() []decide.PoolState {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]decide.PoolState, 0, len(r.pools))
	for key, p := range r.pools {
		tenant, _, _ := strings.Cut(key, "/")
		ps := decide.PoolState{
			Function: key, Tenant: tenant, CPUMilli: p.cfg.CPUMilli, MemoryBytes: p.cfg.MemoryBytes,
			Busy: p.busy, Creating: p.creating, Waiting: len(p.waiters), Floor: p.floor,
			MeanExec: p.meanExec, ColdStart: p.coldStart, Arrivals: p.arrivals,
		}
		if len(p.waiters) > 0 {
			ps.OldestWait = now.Sub(p.waiters[0].since)
		}
		for _, sb := range p.idle {
			ps.Idle = append(ps.Idle, decide.IdleSandbox{ID: sb.sb.ID, LastUsed: sb.lastUsed, Worker: sb.workerID})
		}
		out = append(out, ps)
	}
	return out
}

// Apply carries out a ScalePlan: creations start in the background, idle
// sandboxes named for deletion are deleted if they are still idle.
func (r *Router) Apply(plan decide.ScalePlan) {
	// The creations' goroutines start once the lock is let go: a burst
	// of thousands held it, and every creation finishing waited.
	for _, c := range r.applyLocked(plan) {
		go r.runCreation(c)
	}
}

// applyLocked does Apply's work under the router's lock and returns the
// creations to run.
func (r *Router) applyLocked(plan decide.ScalePlan) []creation {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Deletions first: a creation the plan made room for waits for them.
	for key, ids := range plan.Delete {
		p := r.pools[key]
		if p == nil {
			continue
		}
		for _, id := range ids {
			for i, sb := range p.idle {
				if sb.sb.ID == id {
					p.idle = append(p.idle[:i], p.idle[i+1:]...)
					r.deleteAsync(sb)
					break
				}
			}
		}
	}
	var cs []creation
	for key, n := range plan.Create {
		p := r.pools[key]
		if p == nil {
			continue
		}
		for range n {
			p.creating++
			cs = append(cs, r.newCreationLocked(p))
		}
	}
	return cs
}

// Refuse fails the queued requests of the pools named, which nothing
// will serve, with why(key): their tenant is at its quota
// (decide.LimitToQuotas), or their sandbox fits on no worker
// (decide.FitPlan's Never). A pool that meanwhile got a sandbox keeps its
// queue.
func (r *Router) Refuse(keys []string, why func(key string, cfg FunctionConfig) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, key := range keys {
		p := r.pools[key]
		if p == nil || len(p.waiters) == 0 || len(p.idle)+p.busy+p.creating > 0 {
			continue
		}
		err := why(key, p.cfg)
		for _, w := range p.waiters {
			w.ch <- grant{err: err}
		}
		p.waiters = nil
	}
}

// overQuota is why a pool's queue is refused at its tenant's quota.
func overQuota(key string, _ FunctionConfig) error {
	tenant, rest, _ := strings.Cut(key, "/")
	return &QuotaError{Tenant: tenant, RetryAfter: quotaRetryAfter,
		Msg: fmt.Sprintf("its sandboxes, CPU or memory are all in use and function %s has none", rest)}
}

// tooBig is why a pool's queue is refused when its sandbox fits on no
// live worker at all.
func tooBig(key string, cfg FunctionConfig) error {
	return fmt.Errorf("function %s asks cpu %dm and memory %d bytes, more than any live worker has: %w", key, cfg.CPUMilli, cfg.MemoryBytes, decide.ErrNoCapacity)
}

// shortageSaidAfter is how long a function's demand must have had no room
// before the log says so: a queue that forms and drains at once, as at
// full capacity, is the gauge's, not the log's.
const shortageSaidAfter = 500 * time.Millisecond

// SetUnplaceable records which pools' demand no worker has room for now
// (decide.FitPlan: unplaceable creations; planned: the creations that
// fit), saying so in one line once a pool has been unplaceable for
// shortageSaidAfter and in one when it is placeable again, with how long
// and how many requests came meanwhile. Only a pool with requests waiting is unplaceable; it is
// placeable again once a creation for it fits or its queue is empty.
func (r *Router) SetUnplaceable(unplaceable, planned map[string]int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, p := range r.pools {
		n := unplaceable[key]
		if len(p.waiters) == 0 {
			n = 0 // demand the windows keep, with no request waiting: not a shortage
		}
		switch {
		case n > 0:
			p.unplaceable = n
			if p.unplaceableSince.IsZero() {
				p.unplaceableSince, p.unplaceableArrivals = now, p.arrivals
			}
			if !p.unplaceableSaid && now.Sub(p.unplaceableSince) >= shortageSaidAfter {
				p.unplaceableSaid = true
				r.log.Warn("a function's demand has no room on any worker: its requests wait for room (see baton_unplaceable_demand)",
					"function", key, "cpuMilli", p.cfg.CPUMilli, "memoryBytes", p.cfg.MemoryBytes, "waiting", len(p.waiters),
					"sandboxes", len(p.idle)+p.busy+p.creating, "for", now.Sub(p.unplaceableSince).Round(time.Millisecond))
			}
		case !p.unplaceableSince.IsZero() && (planned[key] > 0 || len(p.waiters) == 0):
			if p.unplaceableSaid {
				ended := "a creation has room"
				if planned[key] == 0 {
					ended = "no request waits (served, refused past the queue's bounds, or gone)"
				}
				r.log.Info("a function's shortage of room ended", "function", key, "how", ended, "after", now.Sub(p.unplaceableSince).Round(time.Millisecond),
					"requests", p.arrivals-p.unplaceableArrivals, "waiting", len(p.waiters))
			}
			p.unplaceable, p.unplaceableSince, p.unplaceableSaid = 0, time.Time{}, false
		}
	}
}

// Unplaceable returns, per pool that has some, the creations its demand
// wants that no worker has room for.
func (r *Router) Unplaceable() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for key, p := range r.pools {
		if p.unplaceable > 0 {
			out[key] = p.unplaceable
		}
	}
	return out
}

// Wait blocks until every background creation and deletion has finished.
func (r *Router) Wait() { r.tasks.Wait() }

// createAsync starts a sandbox for p in the background and hands it to
// the first queued request, or makes it idle. The caller holds r.mu.
func (r *Router) createAsync(p *pool) {
	go r.runCreation(r.newCreationLocked(p))
}

// creation is a sandbox to create for a pool, with the pool's
// configuration when it was decided.
type creation struct {
	p   *pool
	cfg FunctionConfig
	gen int
	id  string
}

// newCreationLocked counts a creation for p as pending; runCreation runs
// it. The caller holds r.mu.
func (r *Router) newCreationLocked(p *pool) creation {
	c := creation{p: p, cfg: p.cfg, gen: p.gen, id: newSandboxID()}
	r.pending[c.id] = true
	r.tasks.Add(1)
	return c
}

// runCreation creates c's sandbox and hands it to the first queued
// request of its pool, or makes it idle.
func (r *Router) runCreation(c creation) {
	p, cfg, gen, id := c.p, c.cfg, c.gen, c.id
	defer r.tasks.Done()
	start := time.Now()
	sb, err := r.create(cfg, id)
	defer func() { <-r.sending }() // after the pool is updated
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, id)
	p.creating--
	if err != nil {
		if errors.Is(err, worker.ErrIdentity) {
			// Something else held the new sandbox's address: the
			// worker removed it, and the next creation gets another
			// address. The queue waits for that one.
			r.identityFailures.Add(1)
			r.log.Error("a new sandbox failed its identity check: something else answers at its address; creating another",
				"function", cfg.Key, "err", err)
			if len(p.waiters) > 0 {
				r.signal()
			}
			return
		}
		if errors.Is(err, decide.ErrNoCapacity) {
			// Room taken between the plan and the placement: the
			// queue waits for the next plan (which says when a
			// function has no room, once), within its bounds.
			r.log.Debug("sandbox creation found no room", "function", cfg.Key, "err", err)
			if len(p.waiters) > 0 {
				r.signal()
			}
			return
		}
		r.log.Warn("sandbox creation failed", "function", cfg.Key, "err", err)
		// Queued requests fail only when nothing else can serve
		// them: a busy sandbox or another creation will.
		if len(p.waiters) > 0 && p.busy == 0 && p.creating == 0 {
			w := p.waiters[0]
			p.waiters = p.waiters[1:]
			w.ch <- grant{err: err}
		}
		return
	}
	p.coldStart = ewma(p.coldStart, time.Since(start))
	sb.pool, sb.gen = p, gen
	r.trackLocked(sb)
	if p.removed || p.gen != gen {
		r.deleteAsync(sb)
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.busy++
		w.ch <- grant{sb: sb, cold: true}
		return
	}
	sb.lastUsed = time.Now()
	p.idle = append(p.idle, sb)
}

// maxSending bounds the creations that run on the orchestrator's CPU at
// once: placing and sending one, and reading the worker's answer and
// putting the sandbox in its pool. A burst of thousands of creations
// otherwise made thousands of goroutines runnable at once, and the
// heartbeat handler queued behind them long enough for live workers to be
// declared dead (20,000 at once in `baton bench controlplane`). Waiting
// for the workers is not bounded.
const maxSending = 64

// create places and starts a sandbox. It takes a sending token to place
// and send, gives it back while the worker works, and returns holding one
// again: the caller gives it back once the sandbox is in its pool.
func (r *Router) create(cfg FunctionConfig, id string) (*sandboxRef, error) {
	res := decide.PlacementRequest{CPUMilli: cfg.CPUMilli, MemoryBytes: cfg.MemoryBytes}
	spec := worker.SandboxSpec{
		ID: id, Function: cfg.Key, Image: cfg.Image,
		CPUMilli: cfg.CPUMilli, MemoryBytes: cfg.MemoryBytes, Env: cfg.Env,
		HealthTimeout: r.healthTimeout, Privileges: cfg.Privileges,
	}
	if r.pullAuth != nil {
		spec.PullAuth = r.pullAuth(cfg.Key, cfg.Image)
	}
	r.sending <- struct{}{}
	// start places and sends on a worker; a worker gets the health
	// timeout plus a margin to answer.
	start := func() (string, worker.Sandbox, error) {
		// A router that is stopping starts nothing: a creation sent now
		// (a chain-warming timer firing during shutdown) could land after
		// the workers' last sweep and leave its sandbox behind.
		if err := r.bg.Err(); err != nil {
			return "", worker.Sandbox{}, fmt.Errorf("the orchestrator is stopping: %w", err)
		}
		workerID, err := r.reserve(res)
		if err != nil {
			return "", worker.Sandbox{}, err
		}
		pc, err := r.workers.SendCreate(workerID, spec)
		<-r.sending
		if err == nil {
			err = pc.Wait(r.bg, r.healthTimeout+5*time.Second)
		}
		r.sending <- struct{}{}
		if err != nil {
			return workerID, worker.Sandbox{}, err
		}
		sb, err := pc.Result()
		return workerID, sb, err
	}
	workerID, sb, err := start()
	if workerID == "" {
		r.events(failedEvent(id, cfg.Key, "", res, err))
		return nil, fmt.Errorf("cold start of %s: %w", cfg.Key, err)
	}
	// One that does not answer is set aside for a while and the creation
	// goes elsewhere.
	if err != nil && unreachable(err) && r.bg.Err() == nil {
		r.workers.Release(workerID, res)
		r.workers.Suspect(workerID, time.Now().Add(suspectFor))
		r.log.Warn("worker did not answer a create; set aside, trying another", "worker", workerID, "for", suspectFor, "err", err)
		if workerID, sb, err = start(); workerID == "" {
			r.events(failedEvent(id, cfg.Key, "", res, err))
			return nil, fmt.Errorf("cold start of %s: %w", cfg.Key, err)
		}
	}
	if err != nil {
		r.workers.Release(workerID, res)
		r.events(failedEvent(spec.ID, cfg.Key, workerID, res, err))
		return nil, fmt.Errorf("cold start of %s on worker %s: %w", cfg.Key, workerID, err)
	}
	ev := sandboxEvent(history.SandboxReady, sb.ID, cfg.Key, workerID, res)
	cs := sb.ColdStart
	ev.PullMs, ev.ImageMs, ev.CreateMs, ev.NetworkMs, ev.StartMs, ev.HealthyMs, ev.TotalMs = ms(cs.Pull), ms(cs.Image), ms(cs.Create), ms(cs.Network), ms(cs.Start), ms(cs.Healthy), ms(cs.Total)
	r.events(ev)
	r.log.Debug("sandbox ready", "function", cfg.Key, "sandbox", sb.ID, "worker", workerID, "coldStart", sb.ColdStart.Total)
	return &sandboxRef{sb: sb, workerID: workerID, res: res}, nil
}

// deleteAsync forgets a sandbox and removes it in the background. The
// caller holds r.mu.
func (r *Router) deleteAsync(sb *sandboxRef) {
	r.forgetLocked(sb)
	sb.closeConn()
	r.deleting.Add(1)
	r.tasks.Add(1)
	go func() {
		defer r.tasks.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.bg), 30*time.Second)
		defer cancel()
		if err := r.workers.Delete(ctx, sb.workerID, sb.sb.ID); err != nil && !errors.Is(err, worker.ErrNotFound) {
			r.log.Warn("delete sandbox", "sandbox", sb.sb.ID, "worker", sb.workerID, "err", err)
		}
		r.workers.Release(sb.workerID, sb.res)
		r.deleting.Add(-1)
		r.freedMu.Lock()
		close(r.freed)
		r.freed = make(chan struct{})
		r.freedMu.Unlock()
		r.events(sandboxEvent(history.SandboxDeleted, sb.sb.ID, sb.sb.Function, sb.workerID, sb.res))
	}()
}

// deletionWait bounds how long a creation waits for the room of
// deletions on their way.
const deletionWait = 10 * time.Second

// reserve places res and reserves it on the worker chosen. When no
// worker has room but deletions are on their way (the plan freed room
// for this creation: FitPlan's evictions), it waits for them to be
// confirmed, up to deletionWait, instead of failing: their room is
// reserved until the worker says the sandbox is gone, so that the
// worker never holds more than its capacity.
func (r *Router) reserve(res decide.PlacementRequest) (string, error) {
	deadline := time.Now().Add(deletionWait)
	for {
		r.freedMu.Lock()
		freed := r.freed
		r.freedMu.Unlock()
		id, err := r.workers.Reserve(res, time.Now())
		if err == nil || !errors.Is(err, decide.ErrNoCapacity) || r.deleting.Load() == 0 || time.Now().After(deadline) {
			return id, err
		}
		select {
		case <-freed:
		case <-time.After(time.Until(deadline)):
		case <-r.bg.Done():
			return "", err
		}
	}
}

// closeConn closes the sandbox's kept connection. Only whoever holds the
// sandbox (a call, or the Router for an idle one, under its lock) may.
func (sb *sandboxRef) closeConn() {
	if sb.conn != nil {
		_ = sb.conn.c.Close()
		sb.conn = nil
	}
}

// sandboxEvent starts a history event for sandbox id of function key.
func sandboxEvent(kind, id, key, workerID string, res decide.PlacementRequest) history.SandboxEvent {
	tenant, rest, _ := strings.Cut(key, "/")
	wf, fn, _ := strings.Cut(rest, "/")
	return history.SandboxEvent{
		ID: newEventID(), Sandbox: id, Event: kind, At: time.Now(), Tenant: tenant, Workflow: wf, Function: fn,
		Worker: workerID, CPUMilli: res.CPUMilli, MemoryBytes: res.MemoryBytes,
	}
}

// failedEvent is the history event of a creation that failed with err
// (on no worker when workerID is "": none could take it).
func failedEvent(id, key, workerID string, res decide.PlacementRequest, err error) history.SandboxEvent {
	ev := sandboxEvent(history.SandboxFailed, id, key, workerID, res)
	ev.Error = err.Error()
	return ev
}

func newEventID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return "ev-" + hex.EncodeToString(b[:])
}

func newSandboxID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return "sb-" + hex.EncodeToString(b[:])
}

// Keys lists the configured functions whose key starts with prefix.
func (r *Router) Keys(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.pools {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// DropWorker forgets every sandbox of a dead worker: idle ones leave their
// pools, calls in flight on busy ones are cut (and tried again where
// allowed), and the queues that need sandboxes wake the autoscaler. It
// returns how many sandboxes were dropped.
func (r *Router) DropWorker(workerID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, sb := range r.byWorker[workerID] {
		n++
		sb.lost = true
		sb.endLife(errWorkerLost)
		delete(r.all, sb.sb.ID)
		ev := sandboxEvent(history.SandboxDeleted, sb.sb.ID, sb.sb.Function, workerID, sb.res)
		ev.Error = "worker lost"
		r.events(ev)
		p := sb.pool
		for i, x := range p.idle {
			if x == sb {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				sb.closeConn() // idle: no call holds it (a call in flight closes its own)
				break
			}
		}
		if len(p.waiters) > 0 {
			r.signal()
		}
	}
	delete(r.byWorker, workerID)
	r.onWorkerMu.Lock()
	delete(r.onWorker, workerID)
	r.onWorkerMu.Unlock()
	return n
}

// Adoption is what the router did with the sandboxes a worker reported.
type Adoption struct {
	Adopted, Deleted, Known int
}

// Adopt takes in the sandboxes a worker reports after the orchestrator
// (re)started or the worker came back: one that matches a configured
// function becomes an idle sandbox of its pool (a warm start kept), one
// that matches nothing is deleted. Sandboxes already known or still being
// created are left alone, so nothing is duplicated or orphaned.
func (r *Router) Adopt(workerID string, list []worker.Sandbox) Adoption {
	var a Adoption
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sb := range list {
		if r.pending[sb.ID] || r.all[sb.ID] != nil {
			a.Known++
			continue
		}
		ref := &sandboxRef{sb: sb, workerID: workerID, res: decide.PlacementRequest{CPUMilli: sb.CPUMilli, MemoryBytes: sb.MemoryBytes}, lastUsed: time.Now()}
		p := r.pools[sb.Function]
		if p == nil || p.removed || !p.cfg.sameSandbox(sb) {
			a.Deleted++
			r.workers.ReserveOn(workerID, ref.res) // released by the deletion
			r.deleteAsync(ref)
			continue
		}
		ref.pool, ref.gen = p, p.gen
		r.trackLocked(ref)
		r.workers.ReserveOn(workerID, ref.res)
		a.Adopted++
		if len(p.waiters) > 0 {
			w := p.waiters[0]
			p.waiters = p.waiters[1:]
			p.busy++
			w.ch <- grant{sb: ref}
			continue
		}
		p.idle = append(p.idle, ref)
	}
	return a
}

// suspectFor is how long a worker that did not answer is left out of
// placement.
const suspectFor = 30 * time.Second

// unreachable reports whether a worker request failed for want of an
// answer rather than with the worker's own error.
func unreachable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
}

// CountOn returns how many sandboxes the router knows on a worker.
func (r *Router) CountOn(workerID string) int {
	r.onWorkerMu.Lock()
	defer r.onWorkerMu.Unlock()
	return r.onWorker[workerID]
}

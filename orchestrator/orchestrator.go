// Package orchestrator is Baton's control plane and data plane in one
// process: the registry of deployed workflows, the in-memory sandbox state,
// the router, the autoscaler, placement over the workers, and the HTTP API.
// It talks to workers only over NATS.
package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/registry"
	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/protocol"
	"baton.dev/baton/workflow"
)

// Config configures an Orchestrator.
type Config struct {
	Conn *nats.Conn
	Keys *Keys
	// KeepAlive is how long an idle sandbox is kept (default 60s).
	KeepAlive time.Duration
	// HealthTimeout bounds a sandbox's cold start (default 30s).
	HealthTimeout time.Duration
	// InvocationTimeout bounds a whole invocation (default 5m).
	InvocationTimeout time.Duration
	// MaxInputBytes bounds an invocation's body (default 6 MiB).
	MaxInputBytes int64
	// AutoscaleTick is how often the autoscaler checks keep-alives
	// (default 1s).
	AutoscaleTick time.Duration
	// MaxSandboxesPerFunction caps each function's sandboxes (0: no
	// cap); requests beyond it queue for one.
	MaxSandboxesPerFunction int
	// MaxQueue bounds each function's waiting requests and MaxQueueWait
	// how long one waits (RouterConfig; zero: no bound).
	MaxQueue     int
	MaxQueueWait time.Duration
	// History, when set, receives invocations, stage runs and sandbox
	// events off the invocation path; nil turns history off.
	History *history.History
	// Prices of the cost model (default scheduler.DefaultPrices).
	Prices scheduler.Prices
	// Prewarm, when set, sets every function's warm-pool floor and
	// keep-alive from its live arrivals, and warms workflows' downstream
	// stages ahead when its policy does chain warming. Nil leaves the
	// floors at zero and the keep-alive at KeepAlive.
	Prewarm *prewarm.Live
	// Registries is how deploys reach registries to pin image tags to
	// digests (trusted CAs, plain-HTTP hosts): the same as the workers'.
	Registries registry.Hosts
	// SecretKey (SecretKeySize bytes) seals tenants' registry logins at
	// rest; nil refuses to store any.
	SecretKey []byte
	// ResolveTimeout bounds pinning one image at deploy (default 30s).
	ResolveTimeout time.Duration
	// Privileges are what workflows may ask for beyond the sandboxes'
	// hardening: egress, capabilities, root. The zero value allows none.
	Privileges Privileges
	// Term is this orchestrator's leadership term when it is one of
	// several replicas (package leader), stamped on every creation and
	// deletion it sends workers; zero when it runs alone.
	Term uint64
	// Standby makes New build a replica's warm standby: it follows the
	// definitions and logins the leader writes and keeps the workers'
	// last heartbeats (heardWhileStandingBy), keeping its views current, but
	// adopts, creates and deletes nothing, until Lead. Without it New
	// leads at once, at Term.
	Standby bool
	Logger  *slog.Logger
}

// Orchestrator is one running control plane.
type Orchestrator struct {
	cfg         Config
	pinner      *registry.Pinner
	logins      *Logins
	log         *slog.Logger
	registry    *Registry
	workers     *Workers
	router      *Router
	autoscaler  *Autoscaler
	chain       *chainWarmer // nil without chain warming
	invocations *Invocations
	metrics     *metrics
	bg          context.Context // lives as long as Run
	stopBg      context.CancelFunc
	async       chan struct{} // bounds async invocations in flight
	hbSub       *nats.Subscription
	standingBy  heardWhileStandingBy // the heartbeats, until Lead
	leading     atomic.Bool          // Lead ran: the orchestrator acts on workers
	adoptions   sync.WaitGroup
	adoptMu     sync.Mutex
	adopting    map[string]time.Time // zero while a listing runs, else when the last ended
	asyncQ      *asyncQueue
	rates       invocationRates // per tenant, from their quotas
}

// New opens the registry and subscribes to heartbeats. Run starts serving.
func New(ctx context.Context, cfg Config) (*Orchestrator, error) {
	if cfg.MaxQueue < 0 || cfg.MaxQueueWait < 0 {
		return nil, fmt.Errorf("orchestrator: queue bounds %d requests, %s: want 0 (no bound) or more", cfg.MaxQueue, cfg.MaxQueueWait)
	}
	if cfg.MaxSandboxesPerFunction < 0 {
		return nil, fmt.Errorf("orchestrator: max sandboxes per function %d: want 0 (no cap) or more", cfg.MaxSandboxesPerFunction)
	}
	if cfg.Conn == nil {
		return nil, errors.New("orchestrator: a NATS connection is required")
	}
	if cfg.Keys == nil {
		return nil, errors.New("orchestrator: API keys are required")
	}
	if cfg.InvocationTimeout <= 0 {
		cfg.InvocationTimeout = 5 * time.Minute
	}
	if cfg.MaxInputBytes <= 0 {
		cfg.MaxInputBytes = 6 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Prices == (scheduler.Prices{}) {
		cfg.Prices = scheduler.DefaultPrices()
	}
	if cfg.ResolveTimeout <= 0 {
		cfg.ResolveTimeout = 30 * time.Second
	}
	if err := cfg.Privileges.Validate(); err != nil {
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	pinner, err := registry.NewPinner(cfg.Registries)
	if err != nil {
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("orchestrator: jetstream: %w", err)
	}
	reg, err := OpenRegistry(ctx, js, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	logins, err := OpenLogins(ctx, js, cfg.SecretKey, cfg.Logger)
	if err != nil {
		reg.Close() // its bucket's watch
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	asyncQ, err := openAsyncQueue(ctx, js, cfg.MaxInputBytes)
	if err != nil {
		reg.Close()
		logins.Close()
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	o := &Orchestrator{
		cfg:         cfg,
		log:         cfg.Logger,
		registry:    reg,
		workers:     NewWorkers(cfg.Conn),
		invocations: NewInvocations(0),
		bg:          bg,
		stopBg:      stop,
		async:       make(chan struct{}, 1024),
		asyncQ:      asyncQ,
		adopting:    map[string]time.Time{},
		pinner:      pinner,
		logins:      logins,
	}
	rcfg := RouterConfig{HealthTimeout: cfg.HealthTimeout, Logger: cfg.Logger, MaxQueue: cfg.MaxQueue, MaxQueueWait: cfg.MaxQueueWait, PullAuth: func(key, image string) *worker.PullAuth {
		tenant, _, _ := strings.Cut(key, "/")
		return logins.PullAuth(tenant, image)
	}}
	if cfg.History != nil {
		rcfg.Events = func(ev history.SandboxEvent) { cfg.History.Add(ev) }
	}
	o.router = NewRouter(bg, o.workers, rcfg)
	o.autoscaler = NewAutoscaler(o.router, decide.AutoscalerPolicy{
		KeepAlive: cfg.KeepAlive, MaxCreatesPerFunction: 64, MaxSandboxesPerFunction: cfg.MaxSandboxesPerFunction,
	}, cfg.AutoscaleTick)
	o.autoscaler.SetQuotas(reg.Quotas)
	o.autoscaler.SetWorkers(o.workers.Snapshot)
	o.metrics = newMetrics(o.router, o.workers, cfg.History)
	if cfg.Prewarm != nil {
		o.autoscaler.SetFloorPlanner(livePrewarm{live: cfg.Prewarm, log: cfg.Logger})
		if cfg.Prewarm.Policy().ChainWarming() {
			o.chain = &chainWarmer{router: o.router, bg: bg, maxSandboxes: cfg.MaxSandboxesPerFunction,
				fanOut: map[string]map[string]int{}, warmed: func(n int) { o.metrics.chainWarmed.Add(float64(n)) },
				policy: cfg.Prewarm.Policy(), qos: map[string]*qosPlanEntry{}, log: cfg.Logger}
			if prewarm.QoSAware(cfg.Prewarm.Policy()) {
				o.chain.live = cfg.Prewarm
			}
		}
	}
	o.hbSub, err = cfg.Conn.Subscribe(protocol.HeartbeatSubjects, func(m *nats.Msg) {
		received := time.Now()
		if o.standingBy.keep(m.Subject, m.Data, received) {
			return // a standby decodes them when it leads
		}
		h, err := o.workers.Heard(m.Subject, m.Data, received)
		if err != nil {
			o.log.Warn("ignoring a heartbeat", "err", err)
			return
		}
		// A worker new to us, or one that runs sandboxes we do not know
		// (created for an orchestrator that died before it heard back),
		// is asked for its list; Adopt leaves known and pending ones be.
		// While Lead runs, the worker is only observed: Lead adopts from
		// every worker.
		if !h.Full || !o.leading.Load() {
			return
		}
		hb := h.Heartbeat
		if h.Restarted {
			n := o.router.DropWorker(hb.WorkerID)
			o.log.Warn("worker restarted before it was declared dead: its sandboxes left the routing table; the ones it still runs are adopted again",
				"worker", hb.WorkerID, "incarnation", hb.Incarnation, "sandboxes", n)
		}
		if h.Fresh || hb.Sandboxes > o.router.CountOn(hb.WorkerID) {
			o.adoptAsync(hb.WorkerID, h.Fresh)
		}
	})
	if err == nil {
		err = HoldHeartbeatBacklog(o.hbSub)
	}
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("orchestrator: subscribe heartbeats: %w", err)
	}
	if !cfg.Standby {
		if err := o.Lead(ctx, cfg.Term); err != nil {
			o.Close()
			return nil, err
		}
	}
	return o, nil
}

// Lead makes a standby (Config.Standby) the leader at term: it takes in
// the last definitions and logins the previous leader wrote, then acts on
// the workers it has been watching, asking each for its sandboxes to adopt
// them. Run serves after it.
func (o *Orchestrator) Lead(ctx context.Context, term uint64) error {
	if o.leading.Load() {
		return errors.New("orchestrator: leads already")
	}
	if err := o.registry.Lead(ctx); err != nil {
		return fmt.Errorf("orchestrator: take over the definitions: %w", err)
	}
	if err := o.logins.Lead(ctx); err != nil {
		return fmt.Errorf("orchestrator: take over the registry logins: %w", err)
	}
	o.workers.term = term
	for _, t := range o.registry.Tenants() {
		for _, k := range t.Keys {
			if err := o.cfg.Keys.Add(k.SHA256, t.Name); err != nil {
				o.log.Error("skipping a stored key", "tenant", t.Name, "err", err)
			}
		}
	}
	for _, d := range o.registry.All() {
		if !o.stillAllowed(d) {
			continue
		}
		for _, fc := range d.Functions() {
			o.router.Configure(fc)
		}
	}
	for _, id := range o.registry.Drained() {
		o.workers.Drain(id, true)
	}
	o.standingBy.replay(o.workers, o.log)
	// Workers that stopped while this replica stood by are dead before
	// anything is placed; the live ones are asked for their sandboxes.
	now := time.Now()
	sweepOnce(o.workers, o.router, now, o.workerLost)
	o.leading.Store(true)
	for _, id := range o.workers.LiveIDs(now) {
		o.adoptAsync(id, true)
	}
	return nil
}

// Heartbeats a heartbeat subscription may hold unhandled (see
// HoldHeartbeatBacklog).
const (
	heartbeatBacklogMessages = 1 << 20   // 20 s of 10,000 workers beating every 200 ms
	heartbeatBacklogBytes    = 512 << 20 // as many full heartbeats, of a few hundred bytes each
)

// HoldHeartbeatBacklog raises the pending limits of the heartbeat
// subscription sub above the NATS client's defaults (65,536 messages,
// 1.3 s of 10,000 workers' heartbeats): past them the client drops
// heartbeats, and during a burst of creations at that scale it dropped
// enough for the sweep to declare live workers dead. A backlog is the
// sweep's to wait for (SweepWorkers), not the client's to drop.
func HoldHeartbeatBacklog(sub *nats.Subscription) error {
	if err := sub.SetPendingLimits(heartbeatBacklogMessages, heartbeatBacklogBytes); err != nil {
		return fmt.Errorf("heartbeat backlog limits: %w", err)
	}
	return nil
}

// Close releases what New took (the buckets' watches, the heartbeat
// subscription) for an orchestrator that will not Run: a standby that
// never led, or one whose Lead failed.
func (o *Orchestrator) Close() {
	if o.hbSub != nil {
		_ = o.hbSub.Unsubscribe()
	}
	o.registry.Close()
	o.logins.Close()
	o.stopBg()
}

// Run drives the autoscaler until ctx is done, then waits for the
// sandbox creations and deletions it started and for async invocations.
func (o *Orchestrator) Run(ctx context.Context) error {
	if !o.leading.Load() {
		return errors.New("orchestrator: Run before Lead: a standby serves nothing")
	}
	sweepDone := make(chan struct{})
	go func() { defer close(sweepDone); o.sweepWorkers(ctx) }()
	asyncDone := make(chan error, 1)
	go func() { asyncDone <- o.runAsync(ctx) }()
	o.autoscaler.Run(ctx)
	<-sweepDone
	if err := <-asyncDone; err != nil {
		o.log.Error("asynchronous invocations stopped", "err", err)
	}
	if err := o.hbSub.Unsubscribe(); err != nil {
		o.log.Warn("unsubscribe heartbeats", "err", err)
	}
	o.stopBg()
	for range cap(o.async) { // wait for async invocations to end
		o.async <- struct{}{}
	}
	o.router.Wait()
	o.adoptions.Wait()
	return nil
}

// sweepWorkers declares dead the workers whose heartbeats stopped.
func (o *Orchestrator) sweepWorkers(ctx context.Context) {
	SweepWorkers(ctx, o.workers, o.router, o.hbSub, o.workerLost)
}

// workerLost counts and logs a worker the sweep declared dead, with the
// sandboxes it held in the routing table (none for one that stopped while
// this replica stood by: a standby routes nothing).
func (o *Orchestrator) workerLost(id string, sandboxes int) {
	o.metrics.workersLost.Inc()
	o.log.Warn("worker lost: no heartbeat; its sandboxes left the routing table and are stranded until a worker starts on its machine", "worker", id, "sandboxes", sandboxes)
}

// SweepWorkers declares dead, every 100 ms until ctx is done, the workers
// whose heartbeats stopped, drops their sandboxes from router (calls in
// flight on them are cut) and calls lost for each. Heartbeats that hb
// (the heartbeat subscription) has received but not yet handled are not
// missed ones: while any are pending a sweep waits one tick (100 ms
// more, once) so that a burst of work does not declare live workers dead.
func SweepWorkers(ctx context.Context, workers *Workers, router *Router, hb *nats.Subscription, lost func(id string, sandboxes int)) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	deferred := false
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, _, err := hb.Pending(); err == nil && n > 0 && !deferred {
				deferred = true
				continue
			}
			deferred = false
			sweepOnce(workers, router, now, lost)
		}
	}
}

// sweepOnce declares dead the workers whose heartbeats stopped by now:
// drops their sandboxes from router, records what they left running as
// stranded, and calls lost for each.
func sweepOnce(workers *Workers, router *Router, now time.Time, lost func(id string, sandboxes int)) {
	for _, id := range workers.Sweep(now) {
		n := router.DropWorker(id)
		workers.Strand(id, n)
		lost(id, n)
	}
}

// adoptionWait bounds an adoption: the listing's wait for the worker's
// answer, and how long a worker that came with sandboxes is left out of
// placement waiting for it (Workers.Observe).
const adoptionWait = 15 * time.Second

// adoptAsync asks a worker that is new to this orchestrator (it started,
// or the worker came back) for its sandboxes and adopts or removes them;
// the worker is placeable again once that is done (Workers.Adopted).
// Adoptions run one at a time per worker and, unless the worker is fresh
// (it came (back), and waits out of placement for one), at most one a
// second.
func (o *Orchestrator) adoptAsync(workerID string, fresh bool) {
	o.adoptMu.Lock()
	if last, busy := o.adopting[workerID]; busy && (last.IsZero() || !fresh && time.Since(last) < time.Second) {
		o.adoptMu.Unlock()
		return // the one running lets the worker back into placement
	}
	o.adopting[workerID] = time.Time{}
	o.adoptMu.Unlock()
	started := time.Now()
	o.adoptions.Add(1)
	go func() {
		defer o.adoptions.Done()
		defer func() {
			o.workers.Adopted(workerID, started)
			o.adoptMu.Lock()
			o.adopting[workerID] = time.Now()
			o.adoptMu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(o.bg, adoptionWait)
		defer cancel()
		list, err := o.workers.List(ctx, workerID)
		if err != nil {
			o.log.Warn("list a worker's sandboxes for adoption", "worker", workerID, "err", err)
			return
		}
		a := o.router.Adopt(workerID, list)
		if a.Adopted+a.Deleted > 0 {
			o.log.Info("sandboxes of a worker taken in", "worker", workerID, "adopted", a.Adopted, "deleted", a.Deleted, "known", a.Known)
		}
	}()
}

// WaitForWorkers blocks until n workers have sent heartbeats.
func (o *Orchestrator) WaitForWorkers(ctx context.Context, n int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for o.workers.Live(time.Now()) < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d workers (have %d): %w", n, o.workers.Live(time.Now()), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// DeployError is a deployment refused for a reason the tenant can fix.
type DeployError struct {
	Status int // HTTP status to answer with
	Msg    string
	// Problems lists every validation problem, when that is the reason.
	Problems workflow.Problems
}

func (e *DeployError) Error() string { return e.Msg }

// Deploy validates a workflow, checks that the operator allows the
// privileges it asks for and that a live worker has every image it
// names, stores it durably and configures its functions. On any error
// nothing is changed. It reports whether the workflow is new.
func (o *Orchestrator) Deploy(ctx context.Context, tenant, filename string, source []byte) (*Deployment, bool, error) {
	wf, err := workflow.Parse(filename, source)
	if err != nil {
		var ps *workflow.Problems
		if errors.As(err, &ps) {
			return nil, false, &DeployError{Status: http.StatusBadRequest, Msg: err.Error(), Problems: *ps}
		}
		return nil, false, &DeployError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	if derr := o.checkQuota(tenant, filename, wf); derr != nil {
		return nil, false, derr
	}
	if derr := o.checkPrivileges(filename, wf); derr != nil {
		return nil, false, derr
	}
	now := time.Now()
	pins, derr := o.pinImages(ctx, tenant, filename, wf, now)
	if derr != nil {
		return nil, false, derr
	}
	old, existed := o.registry.Get(tenant, wf.Metadata.Name)
	d := &Deployment{Tenant: tenant, Name: wf.Metadata.Name, Source: string(source), Deployed: now, Workflow: wf, Images: pins}
	if existed && old.Chosen != nil {
		d.Chosen = old.Chosen // kept where it still fits the bounds
	}
	if err := o.registry.Put(ctx, d); err != nil {
		return nil, false, fmt.Errorf("deploy %s: %w", d.Name, err)
	}
	keep := map[string]bool{}
	for _, fc := range d.Functions() {
		o.router.Configure(fc)
		keep[fc.Key] = true
	}
	for _, k := range o.router.Keys(FunctionKey(tenant, d.Name, "")) {
		if !keep[k] {
			o.router.Remove(k)
		}
	}
	var before map[string]api.Resources
	reason := "first deploy"
	if existed {
		before, reason = old.resourcesByFunction(), fmt.Sprintf("new revision (was %d)", old.Revision)
	}
	o.recordChange(d, history.ConfigurationChange{At: now, Kind: api.ChangeDeploy, Reason: reason, Before: before})
	o.log.Info("workflow deployed", "tenant", tenant, "workflow", d.Name, "revision", d.Revision, "new", !existed)
	return d, !existed, nil
}

// Undeploy deletes a workflow and its sandboxes.
func (o *Orchestrator) Undeploy(ctx context.Context, tenant, name string) (bool, error) {
	if _, ok := o.registry.Get(tenant, name); !ok {
		return false, nil
	}
	if err := o.registry.Delete(ctx, tenant, name); err != nil {
		return true, err
	}
	for _, k := range o.router.Keys(FunctionKey(tenant, name, "")) {
		o.router.Remove(k)
		if o.cfg.Prewarm != nil {
			o.cfg.Prewarm.Forget(k)
		}
	}
	if o.chain != nil {
		o.chain.forget(tenant, name)
	}
	return true, nil
}

// HistoryStats says how the history writer is doing (zero when history is
// off).
func (o *Orchestrator) HistoryStats() history.Stats {
	if o.cfg.History == nil {
		return history.Stats{}
	}
	return o.cfg.History.Stats()
}

// HistoryCount counts a tenant's invocations of a workflow in history that
// started in [since, until).
func (o *Orchestrator) HistoryCount(ctx context.Context, tenant, workflow string, since, until time.Time) (int, error) {
	if o.cfg.History == nil {
		return 0, errors.New("history is off")
	}
	return o.cfg.History.Count(ctx, tenant, workflow, since, until)
}

// PoolStates returns every function pool's state, as the autoscaler sees it.
func (o *Orchestrator) PoolStates() []decide.PoolState { return o.router.PoolStates() }

// SetFloorPlanner lets a pre-warm planner set every function's warm-pool
// floor from now on.
func (o *Orchestrator) SetFloorPlanner(fp decide.FloorPlanner) { o.autoscaler.SetFloorPlanner(fp) }

// SetIdentityCheck turns the router's check of connections to sandboxes
// on or off: for benchmarks that measure its cost, only (Router.SetIdentityCheck).
func (o *Orchestrator) SetIdentityCheck(on bool) { o.router.SetIdentityCheck(on) }

// ConnectionChecks counts the connections to sandboxes the router has
// checked (Router.ConnectionChecks).
func (o *Orchestrator) ConnectionChecks() int64 { return o.router.ConnectionChecks() }

// Choose applies a configuration for a workflow's auto resources: it is
// stored with the deployment (durable), recorded in history, and the
// functions' sandboxes move to it (idle ones at once, busy ones after
// their request).
func (o *Orchestrator) Choose(ctx context.Context, tenant, name string, c api.Choice) (*Deployment, error) {
	d, ok := o.registry.Get(tenant, name)
	if !ok {
		return nil, fmt.Errorf("workflow %q: %w", name, ErrNotFound)
	}
	if err := d.CheckChoice(&c); err != nil {
		return nil, &DeployError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	kind, err := choiceKind(c)
	if err != nil {
		return nil, &DeployError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	c.Kind = kind
	if derr := o.checkPrivileges(name, d.Workflow); derr != nil {
		return nil, derr // deployed when allowed, no longer allowed
	}
	if c.At.IsZero() {
		c.At = time.Now().UTC()
	}
	next := *d
	next.Chosen = &c
	if err := o.registry.Put(ctx, &next); err != nil {
		return nil, fmt.Errorf("choose a configuration for %s: %w", name, err)
	}
	for _, fc := range next.Functions() {
		o.router.Configure(fc)
	}
	if o.cfg.History != nil {
		cfg, _ := json.Marshal(c.Functions)
		o.cfg.History.Add(history.Decision{ID: newEventID(), Tenant: tenant, Workflow: name, At: c.At, Policy: c.Policy, Config: cfg, Reason: c.Reason})
	}
	o.recordChange(&next, history.ConfigurationChange{At: c.At, Kind: c.Kind, Policy: c.Policy, Reason: c.Reason, Before: d.resourcesByFunction()})
	o.log.Info("configuration chosen", "tenant", tenant, "workflow", name, "policy", c.Policy, "kind", c.Kind, "reason", c.Reason)
	return &next, nil
}

// choiceKind is the kind of change a choice makes: as it names it, or
// manual for the manual policy (or none) and tune for a tuner's.
func choiceKind(c api.Choice) (string, error) {
	switch {
	case c.Kind == "" && (c.Policy == "" || c.Policy == "manual"):
		return api.ChangeManual, nil
	case c.Kind == "":
		return api.ChangeTune, nil
	case slices.Contains(api.ChoiceKinds(), c.Kind):
		return c.Kind, nil
	}
	return "", fmt.Errorf("kind: %q is not a kind of choice; want one of %s", c.Kind, strings.Join(api.ChoiceKinds(), ", "))
}

// recordChange adds a change of d's configuration to history (buffered,
// off any invocation's path), with d's resources as After.
func (o *Orchestrator) recordChange(d *Deployment, c history.ConfigurationChange) {
	if o.cfg.History == nil {
		return
	}
	c.ID, c.Tenant, c.Workflow, c.Revision, c.After = newEventID(), d.Tenant, d.Name, d.Revision, d.resourcesByFunction()
	o.cfg.History.Add(c)
}

// ErrNotFound is returned for a workflow the tenant does not have.
var ErrNotFound = errors.New("not found")

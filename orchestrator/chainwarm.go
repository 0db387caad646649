package orchestrator

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/workflow"
)

// ClaimWarm starts sandboxes of the pool until n are idle or being
// created beyond what queued requests and other claims take
// (prewarm.ChainNeed), never past maxSandboxes in the pool (0: no cap),
// and claims n of them for one invocation's stage until release is
// called (when the stage starts, or the invocation ends). It returns how
// many it started. release may be called more than once.
func (r *Router) ClaimWarm(key string, n, maxSandboxes int) (started int, release func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pools[key]
	if p == nil {
		return 0, func() {}
	}
	need := prewarm.ChainNeed(n, len(p.idle), p.creating, len(p.waiters), p.claims)
	if maxSandboxes > 0 {
		need = min(need, maxSandboxes-(len(p.idle)+p.busy+p.creating))
	}
	for range need {
		p.creating++
		r.createAsync(p)
	}
	p.claims += n
	var once sync.Once
	return max(need, 0), func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			p.claims -= n
		})
	}
}

// chainPools reads the pools of a deployment's functions for chain warming.
func (r *Router) chainPools(tenant, wf string, w *workflow.Workflow) map[string]decide.ChainPool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]decide.ChainPool, len(w.Spec.Functions))
	for name := range w.Spec.Functions {
		if p := r.pools[FunctionKey(tenant, wf, name)]; p != nil {
			out[name] = decide.ChainPool{Idle: len(p.idle), Claimed: p.claims, MeanExec: p.meanExec, ColdStart: p.coldStart}
		}
	}
	return out
}

// chainWarmer runs chain warming for the orchestrator: it plans each
// invocation's warming and starts the sandboxes on time, off the
// invocation's path.
type chainWarmer struct {
	router *Router
	bg     context.Context
	// maxSandboxes is the per-function cap (0: none).
	maxSandboxes int
	// fanOut remembers each foreach stage's last width, by tenant/workflow/stage.
	mu     sync.Mutex
	fanOut map[string]map[string]int
	warmed func(n int)
	// policy is the pre-warm policy; under a QoS-aware one, live is its
	// planner and qos each workflow's QoS plan by tenant/workflow (see
	// qosPlan), else live is nil.
	policy prewarm.PrewarmPolicy
	live   *prewarm.Live
	qos    map[string]*qosPlanEntry
	log    *slog.Logger
}

// start plans the warming of one invocation of d and schedules it. The
// invocation tells the returned claims when each stage starts and when it
// ends.
func (c *chainWarmer) start(d *Deployment) *chainClaims {
	key := d.Tenant + "/" + d.Name
	c.mu.Lock()
	fan := maps.Clone(c.fanOut[key]) // observe writes the map meanwhile
	c.mu.Unlock()
	pools := c.router.chainPools(d.Tenant, d.Name, d.Workflow)
	qos := c.qosPlan(d, pools, fan)
	plan := decide.PlanChainWarming(d.Workflow, pools, fan)
	cc := &chainClaims{stages: make(map[string]*stageClaim, len(plan))}
	for _, cw := range plan {
		stage := -1 // looked up only for a QoS plan, which alone reads it
		if qos != nil {
			stage = slices.IndexFunc(d.Workflow.Spec.Stages, func(st *workflow.Stage) bool { return st.Name == cw.Stage })
		}
		if c.policy != nil && !prewarm.ChainWarmsStage(c.policy, qos, stage) {
			continue // its cold start fits in the workflow's QoS
		}
		sc := &stageClaim{}
		cc.stages[cw.Stage] = sc
		pool := FunctionKey(d.Tenant, d.Name, cw.Function)
		if cw.At <= 0 {
			c.warm(cc, sc, pool, cw.N)
			continue
		}
		sc.timer = time.AfterFunc(cw.At, func() { c.warm(cc, sc, pool, cw.N) })
	}
	return cc
}

// qosPlanEntry is one workflow's QoS plan, as of a revision.
type qosPlanEntry struct {
	plan     *prewarm.QoSPlan // nil until planned, or when planning failed
	revision uint64
	at       time.Time
	busy     bool // a refresh is under way
}

// qosPlanRefresh is how often a workflow's QoS plan is made again from
// its pools' measurements.
const qosPlanRefresh = time.Minute

// qosPlan returns d's QoS-aware pre-warm plan (prewarm.PlanQoS) for its
// revision, nil when there is none yet or the policy is not QoS-aware.
// When the plan is missing, of another revision or older than
// qosPlanRefresh, it is made again in the background from the pools'
// measurements (pools, fan) and its functions' settings handed to the live
// planner (prewarm.Live.SetQoS): the invocation never waits for it.
func (c *chainWarmer) qosPlan(d *Deployment, pools map[string]decide.ChainPool, fan map[string]int) *prewarm.QoSPlan {
	if c.live == nil || d.Workflow.Spec.QoS.IsZero() {
		return nil
	}
	key := d.Tenant + "/" + d.Name
	now := time.Now()
	c.mu.Lock()
	e := c.qos[key]
	if e == nil {
		e = &qosPlanEntry{}
		c.qos[key] = e
	}
	stale := !e.busy && (e.at.IsZero() || e.revision != d.Revision || now.Sub(e.at) > qosPlanRefresh)
	e.busy = e.busy || stale
	var plan *prewarm.QoSPlan
	if e.revision == d.Revision {
		plan = e.plan
	}
	c.mu.Unlock()
	if stale {
		go c.refreshQoSPlan(d, pools, fan, e)
	}
	return plan
}

// refreshQoSPlan makes d's QoS plan into e and hands its functions'
// settings to the live planner.
func (c *chainWarmer) refreshQoSPlan(d *Deployment, pools map[string]decide.ChainPool, fan map[string]int, e *qosPlanEntry) {
	p, err := prewarm.PlanQoS(decide.QoSShape(d.Workflow, pools, fan))
	c.mu.Lock()
	e.busy, e.at, e.revision, e.plan = false, time.Now(), d.Revision, nil
	if err == nil {
		e.plan = &p
	}
	current := c.qos[d.Tenant+"/"+d.Name] == e // not forgotten meanwhile
	c.mu.Unlock()
	if !current {
		return
	}
	if err != nil {
		c.log.Warn("QoS-aware pre-warm plan failed: the workflow's functions keep the policy's own settings", "tenant", d.Tenant, "workflow", d.Name, "err", err)
		return
	}
	for i := range p.Functions {
		c.live.SetQoS(FunctionKey(d.Tenant, d.Name, p.Functions[i].Function), &p.Functions[i])
	}
}

// warm claims n warm sandboxes of pool for a stage, unless the stage has
// started (its calls are then queued, and the autoscaler sees them) or
// the invocation has ended.
func (c *chainWarmer) warm(cc *chainClaims, sc *stageClaim, pool string, n int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if sc.started || cc.ended || c.bg.Err() != nil {
		return
	}
	k, release := c.router.ClaimWarm(pool, n, c.maxSandboxes)
	sc.release = release
	if k > 0 && c.warmed != nil {
		c.warmed(k)
	}
}

// chainClaims are one invocation's chain-warming claims, by stage.
type chainClaims struct {
	mu     sync.Mutex
	ended  bool
	stages map[string]*stageClaim
}

type stageClaim struct {
	timer   *time.Timer // nil when warmed at once
	started bool
	release func() // nil until warmed
}

// stageStarted gives back the stage's claim: its calls now take the
// sandboxes. Safe on a nil receiver (no chain warming).
func (cc *chainClaims) stageStarted(stage string) {
	if cc == nil {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if sc := cc.stages[stage]; sc != nil && !sc.started {
		sc.started = true
		sc.stop()
	}
}

// end gives back every claim left (stages skipped, or never reached) and
// stops the timers. Safe on a nil receiver.
func (cc *chainClaims) end() {
	if cc == nil {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.ended = true
	for _, sc := range cc.stages {
		sc.stop()
	}
}

func (sc *stageClaim) stop() {
	if sc.timer != nil {
		sc.timer.Stop()
	}
	if sc.release != nil {
		sc.release()
	}
}

// forget drops what the warmer remembers of tenant's workflow name (its
// stages' widths, its QoS plan), which has been removed.
func (c *chainWarmer) forget(tenant, name string) {
	key := tenant + "/" + name
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.fanOut, key)
	delete(c.qos, key)
}

// observe remembers the width of each foreach stage of a finished
// invocation.
func (c *chainWarmer) observe(d *Deployment, stages []api.StageTiming) {
	key := d.Tenant + "/" + d.Name
	c.mu.Lock()
	defer c.mu.Unlock()
	fan := c.fanOut[key]
	for _, s := range stages {
		if st := d.Workflow.Stage(s.Stage); st != nil && st.Foreach != "" && s.Calls > 0 {
			if fan == nil {
				fan = map[string]int{}
				c.fanOut[key] = fan
			}
			fan[s.Stage] = s.Calls
		}
	}
}

// livePrewarm is the FloorPlanner over a live pre-warm policy.
type livePrewarm struct {
	live *prewarm.Live
	log  *slog.Logger
}

// Plan implements FloorPlanner. A planner that fails leaves the pool at the
// autoscaler's defaults (no floor, the policy's keep-alive).
func (l livePrewarm) Plan(ps decide.PoolState, now time.Time) decide.PoolPlan {
	d, err := l.live.Decide(ps.Function, now, prewarm.Stats{Arrivals: ps.Arrivals, ColdStart: ps.ColdStart, MeanExec: ps.MeanExec})
	if err != nil {
		l.log.Warn("pre-warm planner failed: the pool keeps the defaults", "function", ps.Function, "err", err)
		return decide.PoolPlan{}
	}
	// A zero keep-alive means "at once"; PoolPlan's zero means the default.
	return decide.PoolPlan{Floor: d.Floor, KeepAlive: max(d.KeepAlive, time.Nanosecond)}
}

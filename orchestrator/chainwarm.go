package orchestrator

import (
	"context"
	"log/slog"
	"maps"
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
}

// start plans the warming of one invocation of d and schedules it. The
// invocation tells the returned claims when each stage starts and when it
// ends.
func (c *chainWarmer) start(d *Deployment) *chainClaims {
	key := d.Tenant + "/" + d.Name
	c.mu.Lock()
	fan := maps.Clone(c.fanOut[key]) // observe writes the map meanwhile
	c.mu.Unlock()
	plan := decide.PlanChainWarming(d.Workflow, c.router.chainPools(d.Tenant, d.Name, d.Workflow), fan)
	cc := &chainClaims{stages: make(map[string]*stageClaim, len(plan))}
	for _, cw := range plan {
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

package orchestrator

import (
	"context"
	"sync"
	"time"

	"baton.dev/baton/scheduler/decide"
)

// Autoscaler applies Scale to the Router's pools on every tick and whenever
// a request queues. It samples each pool's demand every tick to keep the
// stable and panic windows.
type Autoscaler struct {
	router *Router
	policy decide.AutoscalerPolicy
	tick   time.Duration

	mu       sync.Mutex
	floors   decide.FloorPlanner
	quotas   func() map[string]decide.Quota           // tenants' quotas; nil: none
	workers  func(now time.Time) []decide.WorkerState // live workers; nil: room is not checked
	samples  map[string][]demandSample
	panicked map[string]time.Time // when each pool last set off panic mode
	evicted  map[string]time.Time // when FitPlan last took each pool's idle sandboxes for room
}

type demandSample struct {
	at     time.Time
	demand int
}

// NewAutoscaler returns an Autoscaler over router. tick is how often demand
// is sampled and idle sandboxes are checked against the keep-alive
// (default 500ms).
func NewAutoscaler(router *Router, policy decide.AutoscalerPolicy, tick time.Duration) *Autoscaler {
	if tick <= 0 {
		tick = 500 * time.Millisecond
	}
	return &Autoscaler{router: router, policy: policy.WithDefaults(), tick: tick, samples: map[string][]demandSample{}, panicked: map[string]time.Time{}, evicted: map[string]time.Time{}}
}

// SetFloorPlanner makes fp set the floors from now on (nil: floors from
// the router's pools, zero by default).
func (a *Autoscaler) SetFloorPlanner(fp decide.FloorPlanner) {
	a.mu.Lock()
	a.floors = fp
	a.mu.Unlock()
}

// SetQuotas makes the tenants' quotas, read from quotas on every
// decision, bound the sandboxes each tenant holds.
func (a *Autoscaler) SetQuotas(quotas func() map[string]decide.Quota) {
	a.mu.Lock()
	a.quotas = quotas
	a.mu.Unlock()
}

// SetWorkers makes the autoscaler fit its plans to the workers' room
// (decide.FitPlan), read from workers on every decision.
func (a *Autoscaler) SetWorkers(workers func(now time.Time) []decide.WorkerState) {
	a.mu.Lock()
	a.workers = workers
	a.mu.Unlock()
}

// Run decides and applies until ctx is done.
func (a *Autoscaler) Run(ctx context.Context) {
	t := time.NewTicker(a.tick)
	defer t.Stop()
	for {
		sample := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sample = true
		case <-a.router.Wake():
		}
		now := time.Now()
		pools := a.observe(now, a.router.PoolStates(), sample)
		plan := decide.Scale(now, pools, a.policy)
		a.mu.Lock()
		quotas, workers := a.quotas, a.workers
		a.mu.Unlock()
		var refused []string
		var qs map[string]decide.Quota
		if quotas != nil {
			qs = quotas()
			plan, refused = decide.LimitToQuotas(plan, pools, qs)
		}
		if workers != nil {
			fit := decide.FitPlan(now, plan, pools, workers(now), qs)
			plan = fit.Plan
			a.mu.Lock()
			for _, f := range fit.Evicted {
				a.evicted[f] = now
			}
			a.mu.Unlock()
			a.router.SetUnplaceable(fit.Unplaceable, plan.Create, now)
			a.router.SetYield(fit.Yield)
			a.router.Refuse(fit.Never, tooBig)
		}
		a.router.Apply(plan)
		a.router.Refuse(refused, overQuota)
	}
}

// observe adds a demand sample per pool (when sample is set), drops those
// older than the stable window, and fills in the windows' means and the
// floors.
func (a *Autoscaler) observe(now time.Time, pools []decide.PoolState, sample bool) []decide.PoolState {
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := make(map[string]bool, len(pools))
	for i := range pools {
		ps := &pools[i]
		seen[ps.Function] = true
		ss := a.samples[ps.Function]
		if sample || len(ss) == 0 {
			ss = append(ss, demandSample{at: now, demand: ps.Busy + ps.Waiting})
		}
		cut := 0
		for cut < len(ss) && now.Sub(ss[cut].at) > a.policy.StableWindow {
			cut++
		}
		ss = ss[cut:]
		a.samples[ps.Function] = ss
		var stable, burst float64
		var nBurst int
		for _, x := range ss {
			stable += float64(x.demand)
			if now.Sub(x.at) <= a.policy.PanicWindow {
				burst += float64(x.demand)
				nBurst++
			}
		}
		ps.StableConcurrency = stable / float64(len(ss))
		if nBurst > 0 {
			ps.PanicConcurrency = burst / float64(nBurst)
		}
		if a.floors != nil {
			pp := a.floors.Plan(*ps, now)
			ps.Floor, ps.KeepAlive = pp.Floor, pp.KeepAlive
		}
		if _, burst := decide.Desired(*ps, a.policy); burst {
			a.panicked[ps.Function] = now
		}
		if at, ok := a.panicked[ps.Function]; ok && now.Sub(at) < a.policy.StableWindow {
			ps.Panicking = true
		}
		ps.Evicted = a.evicted[ps.Function]
	}
	for f := range a.samples {
		if !seen[f] {
			delete(a.samples, f)
			delete(a.panicked, f)
			delete(a.evicted, f)
		}
	}
	return pools
}

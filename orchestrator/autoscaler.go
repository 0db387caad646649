package orchestrator

import (
	"context"
	"sort"
	"time"
)

// PoolState is the read-only view of one function's sandboxes that the
// autoscaler decides on.
type PoolState struct {
	Function string
	Idle     []IdleSandbox
	Busy     int // sandboxes serving a request now
	Creating int // sandboxes being created
	Waiting  int // requests queued for a sandbox
	// Floor is the number of sandboxes to keep even when idle (set by the
	// pre-warm planner; zero scales to zero).
	Floor int
}

// IdleSandbox is one warm sandbox with no request.
type IdleSandbox struct {
	ID       string
	LastUsed time.Time
}

// ScalePlan is what the autoscaler wants done.
type ScalePlan struct {
	// Create maps a function to the number of sandboxes to start.
	Create map[string]int
	// Delete lists idle sandboxes to remove, by function.
	Delete map[string][]string
}

// AutoscalerPolicy holds the autoscaler's tunables.
type AutoscalerPolicy struct {
	// KeepAlive is how long an idle sandbox is kept (default 60s).
	KeepAlive time.Duration
	// MaxCreatesPerFunction caps the creations started in one decision
	// for one function, so a burst does not flood the workers.
	MaxCreatesPerFunction int
}

// Scale decides, for every pool, how many sandboxes to create and which
// idle ones to delete. Each sandbox serves one request at a time, so every
// queued request that no creation is already meant for gets a new sandbox;
// idle sandboxes older than the keep-alive are deleted, oldest first, down
// to the pool's floor. Scale is a pure function: same input, same plan.
func Scale(now time.Time, pools []PoolState, p AutoscalerPolicy) ScalePlan {
	plan := ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}
	for _, ps := range pools {
		total := len(ps.Idle) + ps.Busy + ps.Creating
		create := ps.Waiting - ps.Creating
		if lack := ps.Floor - total; lack > create {
			create = lack
		}
		if p.MaxCreatesPerFunction > 0 && create > p.MaxCreatesPerFunction {
			create = p.MaxCreatesPerFunction
		}
		if create > 0 {
			plan.Create[ps.Function] = create
			continue // a pool that grows deletes nothing
		}
		idle := append([]IdleSandbox(nil), ps.Idle...)
		sort.Slice(idle, func(i, j int) bool {
			if !idle[i].LastUsed.Equal(idle[j].LastUsed) {
				return idle[i].LastUsed.Before(idle[j].LastUsed)
			}
			return idle[i].ID < idle[j].ID
		})
		for _, sb := range idle {
			if total <= ps.Floor {
				break
			}
			if now.Sub(sb.LastUsed) < p.KeepAlive {
				break // sorted oldest first: the rest are younger
			}
			plan.Delete[ps.Function] = append(plan.Delete[ps.Function], sb.ID)
			total--
		}
	}
	return plan
}

// Autoscaler applies Scale to the Router's pools on every tick and whenever
// a request queues.
type Autoscaler struct {
	router *Router
	policy AutoscalerPolicy
	tick   time.Duration
}

// NewAutoscaler returns an Autoscaler over router. tick is how often idle
// sandboxes are checked against the keep-alive (default 1s).
func NewAutoscaler(router *Router, policy AutoscalerPolicy, tick time.Duration) *Autoscaler {
	if policy.KeepAlive <= 0 {
		policy.KeepAlive = 60 * time.Second
	}
	if tick <= 0 {
		tick = time.Second
	}
	return &Autoscaler{router: router, policy: policy, tick: tick}
}

// Run decides and applies until ctx is done.
func (a *Autoscaler) Run(ctx context.Context) {
	t := time.NewTicker(a.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.router.Wake():
		}
		a.router.Apply(Scale(time.Now(), a.router.PoolStates(), a.policy))
	}
}

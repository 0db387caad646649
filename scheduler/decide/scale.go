package decide

import (
	"math"
	"slices"
	"strings"
	"time"
)

// PoolState is the read-only view of one function's sandboxes that the
// autoscaler decides on.
type PoolState struct {
	Function string
	// Tenant owns the function; CPUMilli and MemoryBytes are what each of
	// its sandboxes holds (quotas count them).
	Tenant                string
	CPUMilli, MemoryBytes int64
	Idle                  []IdleSandbox
	Busy                  int // sandboxes serving a request now
	Creating              int // sandboxes being created
	Waiting               int // requests queued for a sandbox
	// Floor is the number of sandboxes to keep even when idle (set by the
	// pre-warm planner; zero scales to zero).
	Floor int
	// StableConcurrency and PanicConcurrency are the mean demand (requests
	// in flight plus queued) over the stable and the panic window.
	StableConcurrency float64
	PanicConcurrency  float64
	// Panicking holds for a stable window after a burst set off panic
	// mode: the pool does not shrink meanwhile.
	Panicking bool
	// MeanExec and ColdStart are the pool's recent mean call time and
	// cold-start time (zero until measured).
	MeanExec  time.Duration
	ColdStart time.Duration
	// OldestWait is how long the first queued request has waited.
	OldestWait time.Duration
	// Evicted is when FitPlan last took one of the pool's idle sandboxes
	// to make room for another pool's queued requests (zero: never).
	Evicted time.Time
	// Arrivals counts the requests the pool has had since it was made.
	Arrivals uint64
	// KeepAlive, when set, is this pool's keep-alive (the pre-warm
	// planner's choice); zero means the policy's.
	KeepAlive time.Duration
}

// IdleSandbox is one warm sandbox with no request.
type IdleSandbox struct {
	ID       string
	LastUsed time.Time
	// Worker runs it (FitPlan frees its room there when it deletes it).
	Worker string
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
	// MaxSandboxesPerFunction caps a function's sandboxes, idle, busy and
	// being created (0: no cap). Requests beyond it queue.
	MaxSandboxesPerFunction int
	// TargetConcurrency is the demand one sandbox should carry (default 1:
	// a sandbox serves one request at a time; below 1 keeps headroom).
	TargetConcurrency float64
	// StableWindow and PanicWindow are the windows the demand is averaged
	// over (defaults: the keep-alive, at most 60s, and 6s); PanicThreshold is how many times the
	// current sandboxes the panic-window demand must reach to act on it
	// (default 2).
	StableWindow   time.Duration
	PanicWindow    time.Duration
	PanicThreshold float64
}

func (p AutoscalerPolicy) WithDefaults() AutoscalerPolicy {
	if p.KeepAlive <= 0 {
		p.KeepAlive = 60 * time.Second
	}
	if p.TargetConcurrency <= 0 {
		p.TargetConcurrency = 1
	}
	if p.StableWindow <= 0 {
		// Demand older than the keep-alive does not hold sandboxes: the
		// pool scales to zero a keep-alive after its last request.
		p.StableWindow = min(p.KeepAlive, 60*time.Second)
	}
	if p.PanicWindow <= 0 {
		p.PanicWindow = 6 * time.Second
	}
	if p.PanicThreshold <= 0 {
		p.PanicThreshold = 2
	}
	return p
}

// Desired is how many sandboxes a pool should have from its demand, and
// whether the panic window drives it (a burst: never scale down then).
func Desired(ps PoolState, p AutoscalerPolicy) (n int, panicking bool) {
	p = p.WithDefaults()
	return desiredOf(&ps, &p)
}

// desiredOf is Desired under a policy with its defaults filled in.
func desiredOf(ps *PoolState, p *AutoscalerPolicy) (n int, panicking bool) {
	stable := int(math.Ceil(ps.StableConcurrency/p.TargetConcurrency - 1e-9))
	burst := int(math.Ceil(ps.PanicConcurrency/p.TargetConcurrency - 1e-9))
	current := len(ps.Idle) + ps.Busy + ps.Creating
	panicking = ps.PanicConcurrency/p.TargetConcurrency >= p.PanicThreshold*float64(max(current, 1))
	n = max(stable, ps.Floor)
	if panicking {
		n = max(n, burst)
	}
	return n, panicking
}

// Scale decides, for every pool, how many sandboxes to create and which
// idle ones to delete, concurrency-based: a pool should have enough
// sandboxes for its mean demand over the stable window at the target
// concurrency, or over the panic window when a burst reaches the panic
// threshold, and never fewer than its floor. A queued request that no
// creation is already meant for also gets a sandbox (a request never
// waits on a window) unless a busy sandbox will free up for it sooner
// than a new one would start (see queueNeed). Idle sandboxes older than the keep-alive are
// deleted, oldest first, down to what the demand and the floor need; a
// panicking pool deletes nothing. Scale is a pure function: same input,
// same plan.
func Scale(now time.Time, pools []PoolState, p AutoscalerPolicy) ScalePlan {
	p = p.WithDefaults()
	plan := ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}
	for i := range pools {
		ps := &pools[i]
		create, del, _ := ScalePoolInto(now, ps, &p, nil)
		if create > 0 {
			plan.Create[ps.Function] = create
		}
		if len(del) > 0 {
			plan.Delete[ps.Function] = del
		}
	}
	return plan
}

// ScalePool is Scale's decision for one pool: the sandboxes to create,
// or the idle ones to delete. It allocates only for deletions (a caller
// deciding for every event, as the simulator, lends ScalePoolInto memory
// instead).
func ScalePool(now time.Time, ps PoolState, p AutoscalerPolicy) (create int, del []string) {
	p = p.WithDefaults()
	create, del, _ = ScalePoolInto(now, &ps, &p, nil)
	return create, del
}

// ScaleScratch is memory that a caller deciding over and over (the
// simulator, for every event) lends ScalePoolInto, so that a decision
// allocates nothing, deletions included. The zero value is ready.
type ScaleScratch struct {
	expired []IdleSandbox
	del     []string
}

// ScalePoolInto is ScalePool's decision and Desired's verdict on a burst
// at once, on *ps under *p (neither of which it changes), for a caller
// that keeps a pool panicking a while after each burst: ps.Panicking may
// say whether an earlier burst does, as a burst now decides the same (a
// pool in a burst deletes nothing). Its deletions are written into s's
// memory: del holds until the next call with s (a nil s: new memory). p
// must have its defaults filled in (WithDefaults), so that a caller
// deciding under the same policy fills them in once. Scale and ScalePool
// decide through it.
func ScalePoolInto(now time.Time, ps *PoolState, p *AutoscalerPolicy, s *ScaleScratch) (create int, del []string, panicking bool) {
	total := len(ps.Idle) + ps.Busy + ps.Creating
	desired, panicking := desiredOf(ps, p)
	create = queueNeed(ps)
	if lack := desired - total; lack > create {
		create = lack
	}
	if p.MaxCreatesPerFunction > 0 && create > p.MaxCreatesPerFunction {
		create = p.MaxCreatesPerFunction
	}
	if p.MaxSandboxesPerFunction > 0 && total+create > p.MaxSandboxesPerFunction {
		create = p.MaxSandboxesPerFunction - total
	}
	if create > 0 {
		return create, nil, panicking // a pool that grows deletes nothing
	}
	if panicking || ps.Panicking || total <= desired {
		return 0, nil, panicking
	}
	keepAlive := p.KeepAlive
	if ps.KeepAlive > 0 {
		keepAlive = ps.KeepAlive
	}
	// The oldest idle sandboxes that have outlived the keep-alive go, down
	// to what the demand and the floor need: those past the keep-alive
	// are the oldest, so sorting them alone gives the deletion order.
	k := slices.IndexFunc(ps.Idle, func(sb IdleSandbox) bool { return now.Sub(sb.LastUsed) >= keepAlive })
	if k < 0 {
		return 0, nil, false // none has outlived the keep-alive
	}
	var expired []IdleSandbox
	if s != nil {
		expired = s.expired[:0]
	}
	for _, sb := range ps.Idle[k:] {
		if now.Sub(sb.LastUsed) >= keepAlive {
			expired = append(expired, sb)
		}
	}
	slices.SortFunc(expired, func(a, b IdleSandbox) int {
		if c := a.LastUsed.Compare(b.LastUsed); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	n := min(len(expired), total-desired)
	if s != nil {
		del = slices.Grow(s.del[:0], n)[:n]
	} else {
		del = make([]string, n)
	}
	for i := range del {
		del[i] = expired[i].ID
	}
	if s != nil {
		clear(expired) // holds no sandbox past the call
		s.expired, s.del = expired, del
	}
	return 0, del, false
}

// queueNeed is how many queued requests need a new sandbox: those that
// no creation is meant for and that no busy sandbox will serve before a
// sandbox started now would be ready. With B busy sandboxes taking
// MeanExec a call, B*floor(ColdStart/MeanExec) waiters are served by them
// within a cold start: a short function at a high rate queues briefly
// instead of starting a sandbox per queued request. Until both times are
// measured, or once a request has waited a whole cold start (the busy
// sandboxes are slower than their mean: a call hangs), every waiter
// counts.
func queueNeed(ps *PoolState) int {
	waiting := ps.Waiting
	if ps.Busy > 0 && ps.MeanExec > 0 && ps.ColdStart > 0 && ps.OldestWait < ps.ColdStart {
		turns := int64(ps.ColdStart / ps.MeanExec)
		if served := int64(ps.Busy) * turns; served >= int64(waiting) {
			waiting = 0
		} else {
			waiting -= int(served)
		}
	}
	return waiting - ps.Creating
}

// FloorPlanner sets the warm-pool floor and the keep-alive of each
// function: the pre-warm planner implements it. Plan is called on every
// decision with the pool's state (its arrivals and measured times) and must
// be cheap.
type FloorPlanner interface {
	Plan(ps PoolState, now time.Time) PoolPlan
}

// PoolPlan is a pre-warm planner's decision for one pool.
type PoolPlan struct {
	// Floor is how many sandboxes to keep even when idle.
	Floor int
	// KeepAlive is how long an idle sandbox above the floor is kept; zero
	// keeps the autoscaler policy's.
	KeepAlive time.Duration
}

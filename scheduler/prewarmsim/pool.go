package prewarmsim

import (
	"slices"
	"time"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/scheduler/prewarm"
)

// request is one call waiting for or running on a sandbox.
type request struct {
	arrival float64 // seconds
	dur     float64 // seconds on a warm sandbox
	inv     int32   // workflow invocation index, −1 for a trace function
	stage   int16   // stage of that invocation
}

// sandbox is one simulated sandbox of a pool.
type sandbox struct {
	id      string
	num     int     // the number in id
	readyAt float64 // when it finished (or will finish) starting
	req     request // while busy
}

// idleSlot is an idle sandbox on its pool's stack: its slot in sbs and
// when it became idle (its last use), kept here so that the stack's
// bottom and top need no look-up of the sandbox.
type idleSlot struct {
	s     int32
	since float64
}

// pool is one simulated function: its sandboxes, its queue and its planner.
type pool struct {
	spec    *poolSpec
	planner prewarm.Planner
	lead    float64 // seconds before an interval its plan is in force

	sbs  []sandbox
	free []int32    // unused slots of sbs
	idle []idleSlot // idle sandboxes, a stack: the most recently used on top
	// idleView is idle as the autoscaler sees it, kept in its order (by
	// LastUsed, then ID) so that its sort of them is a pass (see addView).
	idleView []decide.IdleSandbox
	queue    []request
	qhead    int

	busy, creating int
	claims         int // sandboxes promised to chain-warmed stages not yet started
	demand         demandWindow
	lastDemand     float64 // when the demand last changed

	cur, next prewarm.Decision
	overlap   bool // between next's lead and its interval: both in force
	arrivals  int  // in the current interval

	// ka and kaSeconds are the last keep-alive in force and its seconds
	// (see keepAliveSeconds).
	ka        time.Duration
	kaSeconds float64
	// policy is the autoscaler's policy under policyKA, its defaults
	// filled in (see autoscalerPolicy).
	policy   decide.AutoscalerPolicy
	policyKA time.Duration

	checkAt    float64 // the pending autoscaler check, 0 when none
	panickedAt float64
	nextID     int
	ids        sandboxIDs
}

// keepAliveSeconds is keep-alive ka in seconds; the last one is kept, as the
// keep-alive in force changes once an interval at most.
func (p *pool) keepAliveSeconds(ka time.Duration) float64 {
	if ka != p.ka {
		p.ka, p.kaSeconds = ka, ka.Seconds()
	}
	return p.kaSeconds
}

// autoscalerPolicy is the autoscaler's policy under keep-alive ka and cap
// maxCreates, its defaults filled in; the last one is kept, as the
// keep-alive in force changes once an interval at most. A zero
// TargetConcurrency (WithDefaults makes it positive) is none kept yet, so
// that a first keep-alive of zero still gets the defaults.
func (p *pool) autoscalerPolicy(ka time.Duration, maxCreates int) *decide.AutoscalerPolicy {
	if ka != p.policyKA || p.policy.TargetConcurrency == 0 {
		p.policyKA = ka
		p.policy = decide.AutoscalerPolicy{KeepAlive: ka, MaxCreatesPerFunction: maxCreates}.WithDefaults()
	}
	return &p.policy
}

func (p *pool) waiting() int { return len(p.queue) - p.qhead }

func (p *pool) total() int { return len(p.idle) + p.busy + p.creating }

// effective is the decision in force: during the lead before an interval,
// the larger of the current and the next one.
func (p *pool) effective() prewarm.Decision {
	if !p.overlap {
		return p.cur
	}
	return prewarm.Decision{Floor: max(p.cur.Floor, p.next.Floor), KeepAlive: max(p.cur.KeepAlive, p.next.KeepAlive)}
}

func (p *pool) enqueue(r request) {
	if p.qhead > 1024 && p.qhead > len(p.queue)/2 {
		n := copy(p.queue, p.queue[p.qhead:])
		p.queue = p.queue[:n]
		p.qhead = 0
	}
	p.queue = append(p.queue, r)
}

func (p *pool) dequeue() request {
	r := p.queue[p.qhead]
	p.qhead++
	if p.qhead == len(p.queue) {
		p.queue, p.qhead = p.queue[:0], 0
	}
	return r
}

// recordDemand notes the pool's demand after a change.
func (p *pool) recordDemand(now float64) {
	p.demand.record(now, float64(p.busy+p.waiting()))
	p.lastDemand = now
}

// viewBefore is the autoscaler's order of idle sandboxes: by LastUsed, then
// ID (decide.Scale sorts them so before deleting the oldest).
func viewBefore(a, b *decide.IdleSandbox) bool {
	if !a.LastUsed.Equal(b.LastUsed) {
		return a.LastUsed.Before(b.LastUsed)
	}
	return a.ID < b.ID
}

// addView adds a sandbox that became idle now, the latest: it goes on top,
// below only those idle since the same instant whose ID sorts after it.
func (p *pool) addView(sb decide.IdleSandbox) {
	p.idleView = append(p.idleView, sb)
	k := len(p.idleView) - 1
	for k > 0 && viewBefore(&sb, &p.idleView[k-1]) {
		p.idleView[k] = p.idleView[k-1]
		k--
	}
	p.idleView[k] = sb
}

// dropViewTop removes the sandbox id, the one last made idle (it is among
// the top ones, idle since the same instant), from the view.
func (p *pool) dropViewTop(id string) {
	for k := len(p.idleView) - 1; k >= 0; k-- {
		if p.idleView[k].ID != id {
			continue
		}
		if k == len(p.idleView)-1 { // mostly: the top is the one
			p.idleView[k] = decide.IdleSandbox{}
			p.idleView = p.idleView[:k]
		} else {
			p.idleView = slices.Delete(p.idleView, k, k+1)
		}
		return
	}
}

// dropView removes the sandboxes ids from the view: the autoscaler deletes
// the oldest, a prefix of the view, which is sliced off; any other is
// looked for.
func (p *pool) dropView(ids []string) {
	lo := 0
	for lo < len(ids) && lo < len(p.idleView) && p.idleView[lo].ID == ids[lo] {
		lo++
	}
	p.idleView = dropPrefix(p.idleView, lo)
	for _, id := range ids[lo:] {
		if k := slices.IndexFunc(p.idleView, func(sb decide.IdleSandbox) bool { return sb.ID == id }); k >= 0 {
			p.idleView = slices.Delete(p.idleView, k, k+1)
		}
	}
}

// dropPrefix drops the first n of s. The rest is moved down when it is no
// longer than what goes (a copy paid for by the entries dropped), so that
// a pool whose idle sandboxes come and go keeps one array; else it is
// sliced off, as copying a long rest for every deletion of the oldest
// would cost more than the growth of a new array now and then.
func dropPrefix[E any](s []E, n int) []E {
	if n == 0 {
		return s
	}
	if rest := len(s) - n; rest <= n {
		copy(s, s[n:])
		clear(s[rest:])
		return s[:rest]
	}
	clear(s[:n])
	return s[n:]
}

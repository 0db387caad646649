package prewarmsim

import (
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
	id        string
	readyAt   float64 // when it finished (or will finish) starting
	lastUsed  float64 // when it last became idle
	idleSince float64
	req       request // while busy
	alive     bool
}

// pool is one simulated function: its sandboxes, its queue and its planner.
type pool struct {
	spec    *poolSpec
	planner prewarm.Planner
	lead    float64 // seconds before an interval its plan is in force

	sbs   []sandbox
	free  []int32 // unused slots of sbs
	idle  []int32 // idle sandboxes, a stack: the most recently used on top
	queue []request
	qhead int

	busy, creating int
	claims         int // sandboxes promised to chain-warmed stages not yet started
	demand         demandWindow
	lastDemand     float64 // when the demand last changed

	cur, next prewarm.Decision
	overlap   bool // between next's lead and its interval: both in force
	arrivals  int  // in the current interval

	checkAt    float64 // the pending autoscaler check, 0 when none
	panickedAt float64
	nextID     int
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

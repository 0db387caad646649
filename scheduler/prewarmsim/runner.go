package prewarmsim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
)

// epoch is the wall-clock time of the trace's start handed to the
// autoscaler (any fixed instant does).
var epoch = time.Date(2019, 7, 15, 0, 0, 0, 0, time.UTC)

// recheckAfter is how soon the autoscaler looks again at a pool that keeps
// expired idle sandboxes for their demand (the live one ticks every 500 ms).
const recheckAfter = 1.0

// wfInvocation is one running invocation of a workflow instance. Its slot
// in runner.invs is reused once it has finished and no chain-warming event
// of it is still due.
type wfInvocation struct {
	num     int  // its number in arrival order: seeds its stages' durations
	active  bool // started and not finished
	warms   int  // chain-warming events of it still due
	start   float64
	pending []int8  // needs not yet done, per stage
	issued  []int16 // elements started, per stage
	done    []int16 // elements finished, per stage
	left    int     // stages not finished
	cold    bool    // a first-stage request waited for a sandbox to start
	// claimed marks the stages chain warming warmed sandboxes for that
	// have not started: their pools' claims (nil without chain warming).
	claimed []bool
	// durations are its elements' execution times, in stage order (see
	// invocationTimes).
	durations []float64
}

// groupStats are one group's figures.
type groupStats struct {
	requests, cold   int64
	coldWait         float64
	queued           int64 // requests that waited for a busy sandbox
	queueWait        float64
	idleSeconds      float64
	created, chained int64
	scaleCalls       int64
	decisions        int64
	policyTime       time.Duration
	// latencies and coldLatencies sketch the end-to-end latencies of the
	// workflow invocations, all and those that arrived cold (nil for a
	// trace function).
	latencies, coldLatencies *latencySketch
	violations               int
	// warmViolations counts the workflow invocations that would have been
	// slower than the QoS with every sandbox warm and free (the bound no
	// policy beats); idleUSD and execUSD are the cost model's price of the
	// group's idle sandbox-seconds and of its requests' execution.
	warmViolations   int
	idleUSD, execUSD float64
	// startupSeconds is the time the group's sandboxes spent starting.
	startupSeconds float64
}

// workflowStats are the invocation figures of one sample workflow, summed
// over its instances.
type workflowStats struct {
	stages                      int
	latencies, coldLatencies    latencySketch
	violations, warmViolations  int
	idleSeconds, startupSeconds float64
	idleUSD, execUSD            float64
	allowed                     float64 // 1 − the QoS percentile
}

// runner simulates one group under one policy.
type runner struct {
	cfg      Config
	spec     *groupSpec
	policy   prewarm.PrewarmPolicy
	horizon  float64
	interval float64
	n        int // intervals

	pools    []pool
	h        eventHeap
	invs     []wfInvocation
	freeInvs []int32 // slots of invs to reuse
	started  int     // workflow invocations started
	stats    groupStats

	// times are the durations of the invocations being fed, shared by
	// the group's runners (nil for a trace function).
	times *invocationTimes

	// lastNow and lastAt are the last time at converted (0 and epoch to
	// start with).
	lastNow float64
	lastAt  time.Time

	removeBuf []idRef // scratch of remove
	foundBuf  []int
	// scaleScratch is the autoscaler's memory; its deletions hold until
	// the next decision.
	scaleScratch decide.ScaleScratch
}

// newRunner returns a runner of the group spec, whose pools (spec's with
// their invocation figures) are pools, under policy.
func newRunner(cfg Config, spec *groupSpec, pools []poolSpec, policy prewarm.PrewarmPolicy) (*runner, error) {
	r := &runner{
		cfg: cfg, spec: spec, policy: policy,
		horizon:  float64(cfg.Stream.Minutes()) * 60,
		interval: cfg.Interval.Seconds(),
		pools:    make([]pool, len(pools)),
		lastAt:   epoch,
	}
	if spec.wf != nil {
		r.stats.latencies, r.stats.coldLatencies = &latencySketch{}, &latencySketch{}
	}
	r.n = int(math.Ceil(r.horizon / r.interval))
	for i := range pools {
		ps := &pools[i]
		pl, err := policy.NewPlanner(prewarm.Function{
			Name:         ps.name,
			ColdStart:    time.Duration(ps.coldStart * float64(time.Second)),
			MeanDuration: time.Duration(ps.meanDuration * float64(time.Second)),
			Interval:     cfg.Interval,
			Future:       ps.future,
			QoS:          ps.qos,
		})
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", policy.Name(), err)
		}
		lead := math.Min(math.Max(pl.Lead().Seconds(), 0), r.interval-1e-3)
		r.pools[i] = pool{spec: ps, planner: pl, lead: lead, panickedAt: math.Inf(-1), lastDemand: math.Inf(-1)}
	}
	return r, nil
}

// at is the wall-clock time of simulation time now. The last one is
// kept: the events of an instant ask for it several times.
func (r *runner) at(now float64) time.Time {
	if now != r.lastNow {
		r.lastNow, r.lastAt = now, epoch.Add(time.Duration(now*float64(time.Second)))
	}
	return r.lastAt
}

// start plans the first interval: the simulation stands at time 0, ready
// for the group's arrivals (feed) and then the end of the trace (finish).
func (r *runner) start() {
	for i := range r.pools {
		p := &r.pools[i]
		start := time.Now()
		p.cur = p.planner.Plan(0)
		r.stats.policyTime += time.Since(start)
		r.stats.decisions++
		r.scheduleInterval(i, 1)
		r.scale(i, 0)
	}
}

// feed simulates up to and including arrivals, the group's next ones in
// start order: an arrival goes before the events due at its start. For a
// workflow group, times holds the arrivals' invocations.
func (r *runner) feed(arrivals []trace.Invocation, times *invocationTimes) {
	r.times = times
	for _, a := range arrivals {
		for r.h.len() > 0 && r.h.peekTime() < a.Start {
			r.handle(r.h.pop())
		}
		if r.spec.wf == nil {
			r.arrive(0, request{arrival: a.Start, dur: float64(a.Duration), inv: -1}, a.Start)
		} else {
			r.startInvocation(a.Start)
		}
	}
}

// finish simulates the events left, to the end of the trace, and returns
// the group's figures.
func (r *runner) finish() groupStats {
	for r.h.len() > 0 {
		r.handle(r.h.pop())
	}
	for i := range r.pools {
		p := &r.pools[i]
		for _, e := range p.idle {
			r.addIdle(p, r.horizon-e.since)
		}
	}
	return r.stats
}

// handle carries out event e.
func (r *runner) handle(e event) {
	switch e.kind {
	case evReady:
		r.ready(int(e.pool), e.a, e.t)
	case evFinish:
		r.done(int(e.pool), e.a, e.t)
	case evCheck:
		if p := &r.pools[e.pool]; p.checkAt == e.t {
			p.checkAt = 0
			r.scale(int(e.pool), e.t)
		}
	case evDecide:
		r.decide(int(e.pool), int(e.a), e.t)
	case evBoundary:
		r.boundary(int(e.pool), int(e.a), e.t)
	case evChainWarm:
		r.chainWarm(int(e.pool), int(e.a), e.inv, int(e.st), e.t)
	}
}

// scheduleInterval schedules interval i's plan and start for pool pi.
func (r *runner) scheduleInterval(pi, i int) {
	if i >= r.n {
		return
	}
	t := float64(i) * r.interval
	if lead := r.pools[pi].lead; lead > 0 {
		r.h.push(t-lead, eventBody{kind: evDecide, pool: int32(pi), a: int32(i)})
	}
	r.h.push(t, eventBody{kind: evBoundary, pool: int32(pi), a: int32(i)})
}

// decide plans interval i a lead before it: both decisions hold until it
// starts.
func (r *runner) decide(pi, i int, now float64) {
	p := &r.pools[pi]
	start := time.Now()
	p.next = p.planner.Plan(i)
	r.stats.policyTime += time.Since(start)
	r.stats.decisions++
	p.overlap = true
	r.scale(pi, now)
}

// boundary starts interval i: the planner sees interval i−1's arrivals.
func (r *runner) boundary(pi, i int, now float64) {
	p := &r.pools[pi]
	start := time.Now()
	p.planner.Observe(i-1, p.arrivals)
	if p.lead == 0 {
		p.next = p.planner.Plan(i)
		r.stats.decisions++
	}
	r.stats.policyTime += time.Since(start)
	p.arrivals = 0
	p.cur, p.overlap = p.next, false
	r.scheduleInterval(pi, i+1)
	r.scale(pi, now)
}

// keepAliveOf is the autoscaler keep-alive for d: zero means at once, which
// AutoscalerPolicy spells as one nanosecond (zero there means the default).
func keepAliveOf(d prewarm.Decision) time.Duration {
	return max(d.KeepAlive, time.Nanosecond)
}

// scale runs the real autoscaler on pool pi and carries out its plan.
func (r *runner) scale(pi int, now float64) {
	if now >= r.horizon {
		return
	}
	p := &r.pools[pi]
	d := p.effective()
	if p.total() == 0 && p.waiting() == 0 && d.Floor == 0 && now-p.lastDemand > maxDemandWindow {
		return // nothing the autoscaler could do: no sandbox, no demand, no floor
	}
	ka := keepAliveOf(d)
	window := min(p.keepAliveSeconds(ka), maxDemandWindow)
	ps := decide.PoolState{
		Function:          p.spec.name,
		Idle:              p.idleView,
		Busy:              p.busy,
		Creating:          p.creating,
		Waiting:           p.waiting(),
		Floor:             d.Floor,
		StableConcurrency: p.demand.mean(now, window, stableWindow),
		PanicConcurrency:  p.demand.mean(now, 6, panicWindow),
		MeanExec:          seconds(p.spec.meanDuration),
		ColdStart:         seconds(p.spec.coldStart),
	}
	if p.waiting() > 0 {
		ps.OldestWait = seconds(now - p.queue[p.qhead].arrival)
	}
	policy := p.autoscalerPolicy(ka, r.cfg.MaxCreatesPerFunction)
	// A burst now keeps the pool panicking a stable window: the
	// decision is the same whether Panicking says so or not.
	ps.Panicking = now-p.panickedAt < window
	create, del, burst := decide.ScalePoolInto(r.at(now), &ps, policy, &r.scaleScratch) // Scale's decision for this pool
	if burst {
		p.panickedAt = now
	}
	r.stats.scaleCalls++
	for range create {
		r.create(pi, now)
	}
	r.remove(pi, del, now)
	r.scheduleCheck(pi, now, d, ka)
	if p.waiting() > p.creating {
		// Some waiters were left to the busy sandboxes (queueNeed): look
		// again when the oldest has waited a cold start, as the live
		// autoscaler's tick would.
		// A millisecond later, so that rounding cannot make it a wait
		// short of the cold start again.
		r.checkBy(pi, max(p.queue[p.qhead].arrival+p.spec.coldStart, now)+1e-3)
	}
}

// checkBy makes sure the autoscaler looks at pool pi again at the latest
// at time at.
func (r *runner) checkBy(pi int, at float64) {
	p := &r.pools[pi]
	if at >= r.horizon || (p.checkAt > 0 && p.checkAt <= at) {
		return
	}
	p.checkAt = at
	r.h.push(at, eventBody{kind: evCheck, pool: int32(pi)})
}

// scheduleCheck makes sure the autoscaler looks at the pool again when its
// oldest idle sandbox passes the keep-alive, or soon when it keeps expired
// sandboxes for their demand; not when the floor keeps them (the next plan
// brings a check).
func (r *runner) scheduleCheck(pi int, now float64, d prewarm.Decision, ka time.Duration) {
	p := &r.pools[pi]
	if len(p.idle) == 0 {
		return
	}
	at := p.idle[0].since + p.keepAliveSeconds(ka)
	if at <= now {
		if p.total() <= d.Floor {
			return
		}
		at = now + recheckAfter
	}
	if at >= r.horizon || (p.checkAt > now && p.checkAt <= at) {
		return
	}
	p.checkAt = at
	r.h.push(at, eventBody{kind: evCheck, pool: int32(pi)})
}

func (r *runner) recheck(pi int, now float64) {
	d := r.pools[pi].effective()
	r.scheduleCheck(pi, now, d, keepAliveOf(d))
}

// create starts a sandbox in pool pi.
func (r *runner) create(pi int, now float64) {
	p := &r.pools[pi]
	sb := sandbox{id: p.ids.id(p.nextID), num: p.nextID, readyAt: now + p.spec.coldStart}
	p.nextID++
	var slot int32
	if n := len(p.free); n > 0 {
		slot = p.free[n-1]
		p.free = p.free[:n-1]
		p.sbs[slot] = sb
	} else {
		slot = int32(len(p.sbs))
		p.sbs = append(p.sbs, sb)
	}
	p.creating++
	r.stats.created++
	r.stats.startupSeconds += max(0, min(sb.readyAt, r.horizon)-now)
	r.h.push(sb.readyAt, eventBody{kind: evReady, pool: int32(pi), a: slot})
}

// remove deletes the idle sandboxes ids of pool pi, in that order (an
// unknown id is skipped). The autoscaler deletes the oldest, at the bottom
// of the idle stack (in any order among those idle since the same
// instant): one pass up from the bottom finds them all, a deleted bottom
// is sliced off and only the stack above the first deletion left in it is
// closed up.
func (r *runner) remove(pi int, ids []string, now float64) {
	if len(ids) == 0 {
		return
	}
	if len(ids) == 1 {
		r.removeOne(pi, ids, now)
		return
	}
	p := &r.pools[pi]
	want := r.removeBuf[:0]
	for k, id := range ids {
		if num, err := strconv.Atoi(id); err == nil {
			want = append(want, idRef{num: num, at: k})
		}
	}
	slices.SortFunc(want, func(a, b idRef) int { return cmp.Compare(a.num, b.num) })
	found := slices.Grow(r.foundBuf[:0], len(ids))[:len(ids)]
	for k := range found {
		found[k] = -1
	}
	left := len(want)
	for k := 0; k < len(p.idle) && left > 0; k++ {
		if j, ok := slices.BinarySearchFunc(want, p.sbs[p.idle[k].s].num, func(a idRef, num int) int { return cmp.Compare(a.num, num) }); ok {
			found[want[j].at] = k
			left--
		}
	}
	r.removeBuf, r.foundBuf = want, found
	const gone = -1
	for _, k := range found {
		if k < 0 {
			continue
		}
		s := p.idle[k].s
		r.addIdle(p, min(now, r.horizon)-p.idle[k].since)
		p.idle[k].s = gone
		p.sbs[s] = sandbox{}
		p.free = append(p.free, s)
	}
	p.idle = closeUp(p.idle, gone)
	p.dropView(ids)
}

// removeOne is remove of the one sandbox ids[0], the autoscaler's usual
// plan (under no pre-warming, one for every request): the stack is
// searched up from its bottom by ID, with no parsing or sorting of IDs.
func (r *runner) removeOne(pi int, ids []string, now float64) {
	p := &r.pools[pi]
	for k, e := range p.idle {
		if p.sbs[e.s].id != ids[0] {
			continue
		}
		r.addIdle(p, min(now, r.horizon)-e.since)
		p.sbs[e.s] = sandbox{}
		p.free = append(p.free, e.s)
		if k == 0 {
			p.idle = dropPrefix(p.idle, 1)
		} else {
			p.idle = slices.Delete(p.idle, k, k+1)
		}
		break
	}
	p.dropView(ids)
}

// closeUp drops the gone entries of stack, keeping the others' order: a
// gone bottom is sliced off, the rest closed up from the first gone left.
func closeUp(stack []idleSlot, gone int32) []idleSlot {
	lo := 0
	for lo < len(stack) && stack[lo].s == gone {
		lo++
	}
	stack = dropPrefix(stack, lo)
	n := slices.IndexFunc(stack, func(e idleSlot) bool { return e.s == gone })
	if n < 0 {
		return stack
	}
	for _, s := range stack[n:] {
		if s.s != gone {
			stack[n] = s
			n++
		}
	}
	return stack[:n]
}

// idRef is a sandbox number to delete and its place in the plan.
type idRef struct{ num, at int }

// addIdle counts seconds (none when negative) of an idle sandbox of p.
func (r *runner) addIdle(p *pool, seconds float64) {
	seconds = max(0, seconds)
	r.stats.idleSeconds += seconds
	r.stats.idleUSD += seconds * p.spec.usdPerSecond
}

// makeIdle puts sandbox s of pool pi on the idle stack.
func (r *runner) makeIdle(pi int, s int32, now float64) {
	p := &r.pools[pi]
	sb := &p.sbs[s]
	p.idle = append(p.idle, idleSlot{s: s, since: now})
	p.addView(decide.IdleSandbox{ID: sb.id, LastUsed: r.at(now)})
	r.recheck(pi, now)
}

// serve runs req on sandbox s of pool pi.
func (r *runner) serve(pi int, s int32, req request, now float64) {
	p := &r.pools[pi]
	sb := &p.sbs[s]
	sb.req = req
	p.busy++
	p.recordDemand(now)
	r.stats.requests++
	r.stats.execUSD += req.dur * p.spec.usdPerSecond
	if sb.readyAt > req.arrival+1e-6 { // a microsecond of slack for rounding
		r.stats.cold++
		r.stats.coldWait += now - req.arrival
		if req.inv >= 0 && len(r.spec.wf.stages[req.stage].needs) == 0 {
			r.invs[req.inv].cold = true
		}
	} else if now > req.arrival+1e-6 {
		r.stats.queued++
		r.stats.queueWait += now - req.arrival
	}
	r.h.push(now+req.dur, eventBody{kind: evFinish, pool: int32(pi), a: s})
}

// arrive hands req to a warm sandbox of pool pi or queues it and wakes the
// autoscaler.
func (r *runner) arrive(pi int, req request, now float64) {
	p := &r.pools[pi]
	p.arrivals++
	if n := len(p.idle); n > 0 {
		top := p.idle[n-1]
		s := top.s
		p.idle = p.idle[:n-1]
		p.dropViewTop(p.sbs[s].id)
		r.addIdle(p, min(now, r.horizon)-top.since)
		r.serve(pi, s, req, now)
		return
	}
	p.enqueue(req)
	p.recordDemand(now)
	r.scale(pi, now)
}

// ready: a sandbox finished starting; it takes the oldest queued request
// or becomes idle.
func (r *runner) ready(pi int, s int32, now float64) {
	p := &r.pools[pi]
	p.creating--
	if p.waiting() > 0 {
		r.serve(pi, s, p.dequeue(), now)
		return
	}
	r.makeIdle(pi, s, now)
}

// done: a request ended; its sandbox takes the next queued request or
// becomes idle, then the workflow (if any) moves on.
func (r *runner) done(pi int, s int32, now float64) {
	p := &r.pools[pi]
	req := p.sbs[s].req
	p.busy--
	if p.waiting() > 0 {
		r.serve(pi, s, p.dequeue(), now)
	} else {
		p.recordDemand(now)
		r.makeIdle(pi, s, now)
	}
	if req.inv >= 0 {
		r.elementDone(req, now)
	}
}

// chainWarm starts sandboxes in pool pi until n are warm or starting for
// stage s of invocation idx, beyond those queued requests and other
// invocations' stages claim, and claims n until the stage starts. A stage
// that started already is left to the autoscaler.
func (r *runner) chainWarm(pi, n int, idx int32, s int, now float64) {
	inv := &r.invs[idx]
	inv.warms--
	if !inv.active {
		r.release(idx)
		return
	}
	if now >= r.horizon || inv.issued[s] > 0 {
		return
	}
	p := &r.pools[pi]
	for range prewarm.ChainNeed(n, len(p.idle), p.creating, p.waiting(), p.claims) {
		r.create(pi, now)
		r.stats.chained++
	}
	p.claims += n
	inv.claimed[s] = true
}

package prewarmsim

import (
	"math"
	"slices"
	"time"

	"baton.dev/baton/scheduler/prewarm"
)

// seconds turns the simulator's float seconds into a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// startInvocation starts an invocation of the group's workflow: its first
// stages get their requests and, with chain warming and when it arrives
// cold (prewarm.ChainWarms), each later stage's sandboxes are started its
// cold start before the stage is expected.
func (r *runner) startInvocation(now float64) {
	wf := r.spec.wf
	idx := r.newInvocation()
	inv := &r.invs[idx]
	inv.num, inv.active, inv.start, inv.left, inv.cold = r.started, true, now, len(wf.stages), false
	r.started++
	for i := range wf.stages {
		inv.pending[i] = int8(len(wf.stages[i].needs))
	}
	k := inv.num - r.times.from
	n := len(inv.durations)
	copy(inv.durations, r.times.durations[k*n:(k+1)*n])
	if r.times.warmViolates[k] {
		r.stats.warmViolations++
	}
	// A first stage with no warm sandbox is expected to wait a cold start.
	delay, minRootIdle := 0.0, math.MaxInt
	for _, s := range wf.roots {
		p := &r.pools[wf.stages[s].pool]
		minRootIdle = min(minRootIdle, len(p.idle))
		if len(p.idle) == 0 {
			delay = max(delay, p.spec.coldStart)
		}
	}
	for _, s := range wf.roots {
		r.startStage(idx, s, now)
	}
	if !r.policy.ChainWarming() || !prewarm.ChainWarms(minRootIdle) {
		return
	}
	for i := range wf.stages {
		st := &wf.stages[i]
		if len(st.needs) == 0 || !prewarm.ChainWarmsStage(r.policy, wf.plan, i) {
			continue
		}
		at := now + prewarm.ChainWarmAt(seconds(delay), seconds(st.offset), seconds(r.pools[st.pool].spec.coldStart)).Seconds()
		r.h.push(at, eventBody{kind: evChainWarm, pool: int32(st.pool), a: int32(min(st.parallel, st.width)), inv: idx, st: int16(i)})
		r.invs[idx].warms++
	}
}

// newInvocation returns a free slot of invs with its per-stage counters
// zero (and claims, under chain warming).
func (r *runner) newInvocation() int32 {
	if n := len(r.freeInvs); n > 0 {
		idx := r.freeInvs[n-1]
		r.freeInvs = r.freeInvs[:n-1]
		inv := &r.invs[idx]
		clear(inv.pending)
		clear(inv.issued)
		clear(inv.done)
		clear(inv.claimed)
		return idx
	}
	n := len(r.spec.wf.stages)
	inv := wfInvocation{pending: make([]int8, n), issued: make([]int16, n), done: make([]int16, n), durations: make([]float64, r.times.perInvocation())}
	if r.policy.ChainWarming() {
		inv.claimed = make([]bool, n)
	}
	r.invs = append(r.invs, inv)
	return int32(len(r.invs) - 1)
}

// release frees invocation idx's slot once it has finished and no
// chain-warming event of it is due.
func (r *runner) release(idx int32) {
	if inv := &r.invs[idx]; !inv.active && inv.warms == 0 {
		r.freeInvs = append(r.freeInvs, idx)
	}
}

// startStage sends stage s of invocation idx its first elements.
func (r *runner) startStage(idx int32, s int, now float64) {
	st := &r.spec.wf.stages[s]
	n := min(st.parallel, st.width)
	inv := &r.invs[idx]
	inv.issued[s] = int16(n)
	if inv.claimed != nil && inv.claimed[s] {
		inv.claimed[s] = false
		r.pools[st.pool].claims -= n
	}
	for e := 0; e < n; e++ {
		r.arrive(st.pool, request{arrival: now, dur: r.elementDuration(idx, s, e), inv: idx, stage: int16(s)}, now)
	}
}

// elementDone: an element of a stage finished.
func (r *runner) elementDone(req request, now float64) {
	wf := r.spec.wf
	inv := &r.invs[req.inv]
	s := int(req.stage)
	st := &wf.stages[s]
	inv.done[s]++
	if e := int(inv.issued[s]); e < st.width {
		inv.issued[s]++
		r.arrive(st.pool, request{arrival: now, dur: r.elementDuration(req.inv, s, e), inv: req.inv, stage: req.stage}, now)
	}
	if int(inv.done[s]) < st.width {
		return
	}
	inv.left--
	for _, d := range st.dependents {
		inv = &r.invs[req.inv]
		inv.pending[d]--
		if inv.pending[d] == 0 {
			r.startStage(req.inv, d, now)
		}
	}
	inv = &r.invs[req.inv]
	if inv.left > 0 {
		return
	}
	latency := now - inv.start
	r.stats.latencies.add(latency)
	if inv.cold {
		r.stats.coldLatencies.add(latency)
	}
	if wf.qos > 0 && latency > wf.qos {
		r.stats.violations++
	}
	inv.active = false
	r.release(req.inv)
}

// elementDuration is the execution time of element e of stage s of
// invocation idx (see invocationTimes).
func (r *runner) elementDuration(idx int32, s, e int) float64 {
	return r.invs[idx].durations[r.times.first[s]+e]
}

// invocationTimes are what a stretch of a workflow group's invocations
// bring that is the same under every policy, drawn once for all of them:
// each element's execution time and whether the invocation would be
// slower than the QoS with every sandbox warm and free.
type invocationTimes struct {
	seed uint64
	spec *groupSpec
	// first is each stage's first element among an invocation's
	// durations, in stage order.
	first []int
	// from is the number of the first invocation held; durations has
	// perInvocation elements per invocation, warmViolates one flag.
	from         int
	durations    []float64
	warmViolates []bool
	elements     [][]float64 // scratch of warmLatency
}

// newInvocationTimes returns the invocation times of workflow group g,
// none drawn yet.
func newInvocationTimes(seed uint64, g *groupSpec) *invocationTimes {
	t := &invocationTimes{seed: seed, spec: g, first: make([]int, len(g.wf.stages)), elements: make([][]float64, len(g.wf.stages))}
	n := 0
	for s, st := range g.wf.stages {
		t.first[s] = n
		n += st.width
	}
	return t
}

// perInvocation is how many elements an invocation runs.
func (t *invocationTimes) perInvocation() int {
	last := len(t.spec.wf.stages) - 1
	return t.first[last] + t.spec.wf.stages[last].width
}

// draw replaces the invocations held by the next n, those numbered from
// on after them.
func (t *invocationTimes) draw(n int) {
	t.from += len(t.warmViolates)
	per := t.perInvocation()
	t.durations = slices.Grow(t.durations[:0], n*per)[:n*per]
	t.warmViolates = slices.Grow(t.warmViolates[:0], n)[:n]
	wf := t.spec.wf
	for k := range n {
		num := t.from + k
		d := t.durations[k*per : (k+1)*per]
		for s, st := range wf.stages {
			for e := range st.width {
				d[t.first[s]+e] = t.elementDuration(num, s, e)
			}
		}
		t.warmViolates[k] = wf.qos > 0 && t.warmLatency(d) > wf.qos
	}
}

// warmLatency is the end-to-end latency with every sandbox warm and free
// of an invocation whose elements take d.
func (t *invocationTimes) warmLatency(d []float64) float64 {
	wf := t.spec.wf
	for s, st := range wf.stages {
		t.elements[s] = d[t.first[s] : t.first[s]+st.width]
	}
	return wf.shape.WarmLatency(wf.order, t.elements)
}

// elementDuration is the execution time of element e of stage s of
// invocation number num: log-normal around the stage's median, drawn from
// a hash of the seed, the group, the invocation's number and the element
// so that every policy sees the same durations.
func (t *invocationTimes) elementDuration(num, s, e int) float64 {
	h := splitmix(t.seed)
	h = splitmix(h ^ uint64(t.spec.index))
	h = splitmix(h ^ uint64(num))
	h = splitmix(h ^ uint64(s)<<20 ^ uint64(e))
	u1 := (float64(h>>11) + 0.5) / (1 << 53)
	u2 := float64(splitmix(h)>>11) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	st := &t.spec.wf.stages[s]
	return st.median * math.Exp(st.sigma*z)
}

// splitmix is the SplitMix64 finaliser.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

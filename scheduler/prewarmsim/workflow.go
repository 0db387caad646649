package prewarmsim

import (
	"math"
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
	if wf.qos > 0 && r.warmLatency(idx) > wf.qos {
		r.stats.warmViolations++
	}
	// A first stage with no warm sandbox is expected to wait a cold start.
	delay, minRootIdle := 0.0, math.MaxInt
	for _, s := range wf.roots {
		p := &r.pools[wf.stages[s].pool]
		minRootIdle = min(minRootIdle, len(p.idle))
		if len(p.idle) == 0 {
			delay = math.Max(delay, p.spec.coldStart)
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
		r.h.push(event{t: at, kind: evChainWarm, pool: int32(st.pool), a: int32(min(st.parallel, st.width)), inv: idx, st: int16(i)})
		r.invs[idx].warms++
	}
}

// warmLatency is invocation idx's end-to-end latency with every sandbox
// warm and free, from the element durations it will be given.
func (r *runner) warmLatency(idx int32) float64 {
	wf := r.spec.wf
	if r.elements == nil {
		r.elements = make([][]float64, len(wf.stages))
	}
	for s := range wf.stages {
		r.elements[s] = r.elements[s][:0]
		for e := range wf.stages[s].width {
			r.elements[s] = append(r.elements[s], r.elementDuration(idx, s, e))
		}
	}
	return wf.shape.WarmLatency(wf.order, r.elements)
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
	inv := wfInvocation{pending: make([]int8, n), issued: make([]int16, n), done: make([]int16, n)}
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
// invocation idx: log-normal around the stage's median, drawn from a hash
// of the seed, the group, the invocation's number and the element so that
// every policy sees the same durations.
func (r *runner) elementDuration(idx int32, s, e int) float64 {
	h := splitmix(r.cfg.Seed)
	h = splitmix(h ^ uint64(r.spec.index))
	h = splitmix(h ^ uint64(r.invs[idx].num))
	h = splitmix(h ^ uint64(s)<<20 ^ uint64(e))
	u1 := (float64(h>>11) + 0.5) / (1 << 53)
	u2 := float64(splitmix(h)>>11) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	st := &r.spec.wf.stages[s]
	return st.median * math.Exp(st.sigma*z)
}

// splitmix is the SplitMix64 finaliser.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

package decide

import (
	"container/heap"
	"slices"
	"sort"
	"time"
)

// IdleLent is how long a sandbox must have been idle before a tenant
// above its owner's share may take its room (FitPlan).
const IdleLent = time.Second

// EvictionHold is how long a pool whose idle sandboxes FitPlan took for
// room is not warmed again ahead of its requests: what it would keep warm
// would be taken again, and the two pools would trade the room back and
// forth at every decision. Its own queued requests still get room.
const EvictionHold = 30 * time.Second

// Fit is a ScalePlan cut to what the workers can hold.
type Fit struct {
	Plan ScalePlan
	// Unplaceable counts, per pool, the creations the plan wanted that no
	// worker has room for now (the pool's demand waits for room).
	Unplaceable map[string]int
	// Never lists the pools with queued requests whose sandbox would not
	// fit on any live worker even empty (there are workers): they cannot
	// be served at all.
	Never []string
	// Evicted lists the pools whose idle sandboxes the plan deletes to
	// make room (PoolState.Evicted is to be set to now for them).
	Evicted []string
	// Yield counts, per pool, busy sandboxes to retire when their call
	// ends instead of serving the pool's own queue: the pool's tenant
	// holds more than its fair share while another tenant's queued
	// demand has no room, and the room a retired sandbox frees goes to
	// that tenant in the next plan.
	Yield map[string]int
}

// FitPlan cuts plan's creations to what the workers hold (the
// orchestrator's placement, PlaceSampledIndex: reservations never exceed
// a worker's capacity), and
// shares the room between tenants by weighted dominant resource fairness:
// each creation goes to the pool whose tenant has the smallest dominant
// share (the larger of its CPU and its memory over the live workers'
// totals, divided by the tenant's Weight in quotas, default 1),
// queued demand before the rest, the longest waiting first. When a pool
// with queued requests finds no room, idle sandboxes of pools with no
// queue are deleted to make it, least recently used first, on the worker
// where the fewest deletions suffice (another tenant's, if it holds less,
// only once idle for IdleLent). Pre-warm floors count against their
// tenant's share like any sandbox. FitPlan is a pure function.
func FitPlan(now time.Time, plan ScalePlan, pools []PoolState, workers []WorkerState, quotas map[string]Quota) Fit {
	out := Fit{Plan: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}, Unplaceable: map[string]int{}, Yield: map[string]int{}}
	deleted := map[string]bool{}
	for f, ids := range plan.Delete {
		out.Plan.Delete[f] = slices.Clone(ids)
		for _, id := range ids {
			deleted[id] = true
		}
	}
	ws := slices.Clone(workers)
	slot := map[string]int{}
	var totalCPU, totalMem int64
	for i, w := range ws {
		slot[w.ID] = i
		if !w.Draining {
			totalCPU += w.CPUMilli
			totalMem += w.MemoryBytes
		}
	}
	byName := map[string]*PoolState{}
	used := map[string]usage{}
	for i := range pools {
		ps := &pools[i]
		byName[ps.Function] = ps
		used[ps.Tenant] = used[ps.Tenant].plus(*ps, len(ps.Idle)+ps.Busy+ps.Creating)
	}
	// The plan's own deletions free their room.
	for f, ids := range plan.Delete {
		ps := byName[f]
		if ps == nil {
			continue
		}
		for _, sb := range ps.Idle {
			if slices.Contains(ids, sb.ID) {
				free(ws, slot, sb.Worker, *ps)
				used[ps.Tenant] = used[ps.Tenant].plus(*ps, -1)
			}
		}
	}
	share := func(tenant string) float64 {
		u := used[tenant]
		var c, m float64
		if totalCPU > 0 {
			c = float64(u.cpu) / float64(totalCPU)
		}
		if totalMem > 0 {
			m = float64(u.memory) / float64(totalMem)
		}
		return max(c, m) / quotas[tenant].weight()
	}
	want := map[string]int{}
	for f, n := range plan.Create {
		if byName[f] != nil && n > 0 {
			want[f] = n
		}
	}
	// The next creation goes to the tenant with the smallest dominant
	// share, and within it to queued demand, the longest waiting, the
	// name: a heap of tenants by share (fixed as their shares change)
	// over a heap of each tenant's pools (O(creations log pools)).
	tq := &tenantQueue{share: share}
	byTenant := map[string]*poolQueue{}
	for f := range want {
		ps := byName[f]
		pq := byTenant[ps.Tenant]
		if pq == nil {
			pq = &poolQueue{}
			byTenant[ps.Tenant] = pq
			tq.names = append(tq.names, ps.Tenant)
		}
		pq.items = append(pq.items, ps)
	}
	for _, pq := range byTenant {
		heap.Init(pq)
	}
	heap.Init(tq)
	var decisions uint64 // placements made, each one's seed
	for tq.Len() > 0 {
		tenant := tq.names[0]
		pq := byTenant[tenant]
		ps := pq.items[0]
		req := PlacementRequest{CPUMilli: ps.CPUMilli, MemoryBytes: ps.MemoryBytes}
		if ps.Waiting == 0 && !ps.Evicted.IsZero() && now.Sub(ps.Evicted) < EvictionHold {
			heap.Pop(pq) // warmed ahead only once the hold is over
			if pq.Len() == 0 {
				heap.Pop(tq)
			}
			continue
		}
		decisions++
		i, ok := placeIndex(ws, req, decisions)
		reorder := false // other tenants' shares fell: the heap is made again
		if !ok && ps.Waiting > 0 {
			i, ok = makeRoom(now, ws, pools, ps, req, deleted, &out.Plan, &out.Evicted, used, share)
			reorder = true
		}
		if !ok {
			if ps.Waiting > 0 {
				yieldFor(pools, ps, used, share, out.Yield)
				reorder = true
			}
			out.Unplaceable[ps.Function] += want[ps.Function]
			if ps.Waiting > 0 && ps.Busy+ps.Creating+len(ps.Idle) == 0 && neverFits(workers, req) {
				out.Never = append(out.Never, ps.Function)
			}
			heap.Pop(pq)
		} else {
			ws[i].ReservedCPUMilli += req.CPUMilli
			ws[i].ReservedMemoryBytes += req.MemoryBytes
			used[ps.Tenant] = used[ps.Tenant].plus(*ps, 1)
			out.Plan.Create[ps.Function]++
			if want[ps.Function]--; want[ps.Function] == 0 {
				heap.Pop(pq)
			}
		}
		switch {
		case pq.Len() == 0:
			heap.Pop(tq) // the tenant on top, done
			if reorder {
				heap.Init(tq)
			}
		case reorder:
			heap.Init(tq)
		default:
			heap.Fix(tq, 0) // its share grew
		}
	}
	for f, ids := range out.Plan.Delete {
		if len(ids) == 0 {
			delete(out.Plan.Delete, f)
		}
	}
	sort.Strings(out.Never)
	sort.Strings(out.Evicted)
	for f, n := range out.Yield {
		if n == 0 {
			delete(out.Yield, f)
		}
	}
	return out
}

// neverFits reports whether req fits on no live worker even empty. With
// no worker at all (an orchestrator that has not heard from them yet: a
// new leader) nothing is known to be too big: demand waits for workers,
// within its queue's bounds. Workers that all drain hold nothing.
func neverFits(workers []WorkerState, req PlacementRequest) bool {
	if len(workers) == 0 {
		return false
	}
	for _, w := range workers {
		if !w.Draining && req.CPUMilli <= w.CPUMilli && req.MemoryBytes <= w.MemoryBytes {
			return false
		}
	}
	return true
}

// free returns one sandbox of ps's size to worker id.
func free(ws []WorkerState, slot map[string]int, id string, ps PoolState) {
	if i, ok := slot[id]; ok {
		ws[i].ReservedCPUMilli -= ps.CPUMilli
		ws[i].ReservedMemoryBytes -= ps.MemoryBytes
	}
}

// makeRoom deletes idle sandboxes of pools with no queue (other than
// for's, of its own tenant or of one holding more), least recently used
// first, on the worker where the fewest deletions make room for req, and
// returns that worker.
func makeRoom(now time.Time, ws []WorkerState, pools []PoolState, forPool *PoolState, req PlacementRequest, deleted map[string]bool, plan *ScalePlan, evicted *[]string, used map[string]usage, share func(string) float64) (int, bool) {
	type victim struct {
		sb IdleSandbox
		ps *PoolState
	}
	onWorker := map[string][]victim{}
	for i := range pools {
		ps := &pools[i]
		if ps.Waiting > 0 || ps.Function == forPool.Function {
			continue
		}
		// Another tenant's idle sandboxes go to a tenant holding less
		// than it; to one holding more only once they have been idle a
		// while (unused room is lent, the sandboxes a tenant is using
		// between its calls are not taken).
		lower := ps.Tenant != forPool.Tenant && share(ps.Tenant) <= share(forPool.Tenant)
		for _, sb := range ps.Idle {
			if lower && now.Sub(sb.LastUsed) < IdleLent {
				continue
			}
			if !deleted[sb.ID] && sb.Worker != "" {
				onWorker[sb.Worker] = append(onWorker[sb.Worker], victim{sb, ps})
			}
		}
	}
	best, bestN := -1, 0
	var bestVictims []victim
	for i, w := range ws {
		vs := onWorker[w.ID]
		if w.Draining || len(vs) == 0 {
			continue
		}
		sort.Slice(vs, func(a, b int) bool {
			if !vs[a].sb.LastUsed.Equal(vs[b].sb.LastUsed) {
				return vs[a].sb.LastUsed.Before(vs[b].sb.LastUsed)
			}
			return vs[a].sb.ID < vs[b].sb.ID
		})
		cpu, mem := w.ReservedCPUMilli, w.ReservedMemoryBytes
		n := 0
		for cpu+req.CPUMilli > w.CPUMilli || mem+req.MemoryBytes > w.MemoryBytes {
			if n == len(vs) {
				n = -1
				break
			}
			cpu -= vs[n].ps.CPUMilli
			mem -= vs[n].ps.MemoryBytes
			n++
		}
		if n > 0 && (best < 0 || n < bestN || (n == bestN && w.ID < ws[best].ID)) {
			best, bestN, bestVictims = i, n, vs[:n]
		}
	}
	if best < 0 {
		return -1, false
	}
	for _, v := range bestVictims {
		if !slices.Contains(*evicted, v.ps.Function) {
			*evicted = append(*evicted, v.ps.Function)
		}
		deleted[v.sb.ID] = true
		plan.Delete[v.ps.Function] = append(plan.Delete[v.ps.Function], v.sb.ID)
		ws[best].ReservedCPUMilli -= v.ps.CPUMilli
		ws[best].ReservedMemoryBytes -= v.ps.MemoryBytes
		used[v.ps.Tenant] = used[v.ps.Tenant].plus(*v.ps, -1)
	}
	return best, true
}

// yieldFor asks the tenant with the largest dominant share, other than
// forPool's, to give up one busy sandbox big enough for forPool's, when
// after that it would still hold at least as much as forPool's tenant
// with the sandbox gained (so two tenants do not hand one sandbox back
// and forth). The shares count the yield at once.
func yieldFor(pools []PoolState, forPool *PoolState, used map[string]usage, share func(string) float64, yield map[string]int) {
	var donor *PoolState
	for i := range pools {
		ps := &pools[i]
		if ps.Tenant == forPool.Tenant || ps.Busy-yield[ps.Function] <= 0 || ps.MemoryBytes < forPool.MemoryBytes {
			continue
		}
		if donor == nil || share(ps.Tenant) > share(donor.Tenant) ||
			(share(ps.Tenant) == share(donor.Tenant) && ps.Function < donor.Function) {
			donor = ps
		}
	}
	if donor == nil {
		return
	}
	before := used[donor.Tenant]
	used[donor.Tenant] = before.plus(*donor, -1)
	gainer := used[forPool.Tenant]
	used[forPool.Tenant] = gainer.plus(*forPool, 1)
	if share(donor.Tenant) < share(forPool.Tenant) {
		used[donor.Tenant], used[forPool.Tenant] = before, gainer // not fairer: keep as it is
		return
	}
	yield[donor.Function]++
}

// placeIndex is the orchestrator's placement (PlaceSampledIndex with the
// default sample, the seed-th decision) as a found flag: it finds room
// exactly where PlaceIndex would, at a cost that does not grow with the
// workers.
func placeIndex(ws []WorkerState, req PlacementRequest, seed uint64) (int, bool) {
	i, err := PlaceSampledIndex(ws, req, DefaultPlacementSample, seed)
	return i, err == nil
}

// poolQueue orders one tenant's pools for FitPlan (container/heap):
// queued demand first, the longest waiting, the name.
type poolQueue struct{ items []*PoolState }

func (q *poolQueue) Len() int { return len(q.items) }
func (q *poolQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if (a.Waiting > 0) != (b.Waiting > 0) {
		return a.Waiting > 0
	}
	if a.OldestWait != b.OldestWait {
		return a.OldestWait > b.OldestWait
	}
	return a.Function < b.Function
}
func (q *poolQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *poolQueue) Push(x any)    { q.items = append(q.items, x.(*PoolState)) }
func (q *poolQueue) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}

// tenantQueue orders tenants for FitPlan by their dominant share now,
// then by name (container/heap).
type tenantQueue struct {
	names []string
	share func(string) float64
}

func (q *tenantQueue) Len() int { return len(q.names) }
func (q *tenantQueue) Less(i, j int) bool {
	if a, b := q.share(q.names[i]), q.share(q.names[j]); a != b {
		return a < b
	}
	return q.names[i] < q.names[j]
}
func (q *tenantQueue) Swap(i, j int) { q.names[i], q.names[j] = q.names[j], q.names[i] }
func (q *tenantQueue) Push(x any)    { q.names = append(q.names, x.(string)) }
func (q *tenantQueue) Pop() any {
	x := q.names[len(q.names)-1]
	q.names = q.names[:len(q.names)-1]
	return x
}

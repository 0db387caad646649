package decide

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Quota bounds what one tenant may hold at once. Zero fields are
// unbounded.
type Quota struct {
	// Sandboxes bounds the tenant's sandboxes: idle, busy and being
	// created.
	Sandboxes int `json:"sandboxes,omitempty"`
	// CPUMilli and MemoryBytes bound the sum of those sandboxes' limits.
	CPUMilli    int64 `json:"cpuMilli,omitempty"`
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
	// InvocationsPerSecond bounds the rate of invocations the API
	// accepts from the tenant (sync and async), with bursts of Burst
	// (default: one second's worth, at least 1).
	InvocationsPerSecond float64 `json:"invocationsPerSecond,omitempty"`
	Burst                int     `json:"burst,omitempty"`
	// Weight is not a bound: it is the tenant's weight in the fair share
	// of contended capacity (FitPlan), relative to other tenants' (zero
	// means 1). A tenant of weight 2 is given room until it holds twice
	// the dominant share of a tenant of weight 1.
	Weight float64 `json:"weight,omitempty"`
}

// weight is q's Weight, 1 when unset.
func (q Quota) weight() float64 {
	if q.Weight > 0 {
		return q.Weight
	}
	return 1
}

// Unbounded reports whether q sets nothing (no bound and the default
// weight).
func (q Quota) Unbounded() bool { return q == Quota{} }

// Admit says why one sandbox of cpuMilli and memoryBytes could never run
// under q, if it could not: a workflow needs at least one sandbox of each
// of its functions at a time.
func (q Quota) Admit(cpuMilli, memoryBytes int64) error {
	var over []string
	if q.CPUMilli > 0 && cpuMilli > q.CPUMilli {
		over = append(over, fmt.Sprintf("cpu %dm is above the tenant's quota of %dm", cpuMilli, q.CPUMilli))
	}
	if q.MemoryBytes > 0 && memoryBytes > q.MemoryBytes {
		over = append(over, fmt.Sprintf("memory %d bytes is above the tenant's quota of %d", memoryBytes, q.MemoryBytes))
	}
	if len(over) > 0 {
		return fmt.Errorf("one sandbox could never run: %s", strings.Join(over, "; "))
	}
	return nil
}

// usage is what a tenant holds, in a quota's terms.
type usage struct {
	sandboxes   int
	cpu, memory int64
}

func (u usage) plus(ps PoolState, n int) usage {
	return usage{u.sandboxes + n, u.cpu + int64(n)*ps.CPUMilli, u.memory + int64(n)*ps.MemoryBytes}
}

func (u usage) within(q Quota) bool {
	return (q.Sandboxes <= 0 || u.sandboxes <= q.Sandboxes) &&
		(q.CPUMilli <= 0 || u.cpu <= q.CPUMilli) &&
		(q.MemoryBytes <= 0 || u.memory <= q.MemoryBytes)
}

// LimitToQuotas trims plan so that no tenant holds more than its quota:
// its sandboxes (idle, busy, being created, and those plan creates), their
// CPU and their memory. To make room for a pool with queued requests it
// deletes the tenant's idle sandboxes of its other pools that have no
// queue, least recently used first; creations that still do not fit are
// dropped. It returns the trimmed plan and, sorted, the pools whose
// queued requests nothing will serve because their tenant is at its
// quota: no sandbox, none being created, none planned. Their requests are
// to be refused (429), not left waiting. Tenants with no quota are left
// as plan has them. LimitToQuotas is a pure function.
func LimitToQuotas(plan ScalePlan, pools []PoolState, quotas map[string]Quota) (ScalePlan, []string) {
	if len(quotas) == 0 {
		return plan, nil
	}
	out := ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}
	for f, ids := range plan.Delete {
		out.Delete[f] = slices.Clone(ids)
	}
	deleted := map[string]bool{}
	for _, ids := range plan.Delete {
		for _, id := range ids {
			deleted[id] = true
		}
	}
	// What each tenant holds once the plan's deletions are done.
	used := map[string]usage{}
	for _, ps := range pools {
		n := ps.Busy + ps.Creating
		for _, sb := range ps.Idle {
			if !deleted[sb.ID] {
				n++
			}
		}
		used[ps.Tenant] = used[ps.Tenant].plus(ps, n)
	}
	// Pools with queued requests choose first, the longest waiting first;
	// the rest by name, so the plan is the same for the same input.
	order := slices.Clone(pools)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if (a.Waiting > 0) != (b.Waiting > 0) {
			return a.Waiting > 0
		}
		if a.OldestWait != b.OldestWait {
			return a.OldestWait > b.OldestWait
		}
		return a.Function < b.Function
	})
	var refused []string
	for _, ps := range order {
		want := plan.Create[ps.Function]
		q, bounded := quotas[ps.Tenant]
		if !bounded || q.Unbounded() {
			if want > 0 {
				out.Create[ps.Function] = want
			}
			continue
		}
		made := 0
		for ; made < want; made++ {
			next := used[ps.Tenant].plus(ps, 1)
			for !next.within(q) && ps.Waiting > 0 {
				victim, from, ok := lruIdle(pools, ps, deleted)
				if !ok {
					break
				}
				deleted[victim.ID] = true
				out.Delete[from.Function] = append(out.Delete[from.Function], victim.ID)
				used[ps.Tenant] = used[ps.Tenant].plus(from, -1)
				next = used[ps.Tenant].plus(ps, 1)
			}
			if !next.within(q) {
				break
			}
			used[ps.Tenant] = next
		}
		if made > 0 {
			out.Create[ps.Function] = made
		}
		if ps.Waiting > 0 && made == 0 && ps.Busy+ps.Creating+len(ps.Idle) == 0 {
			refused = append(refused, ps.Function)
		}
	}
	for f, ids := range out.Delete {
		if len(ids) == 0 {
			delete(out.Delete, f)
		}
	}
	sort.Strings(refused)
	return out, refused
}

// lruIdle picks the least recently used idle sandbox, not yet deleted, of
// for's tenant in its pools other than for that have no queue.
func lruIdle(pools []PoolState, forPool PoolState, deleted map[string]bool) (IdleSandbox, PoolState, bool) {
	var best IdleSandbox
	var from PoolState
	found := false
	for _, ps := range pools {
		if ps.Tenant != forPool.Tenant || ps.Function == forPool.Function || ps.Waiting > 0 {
			continue
		}
		for _, sb := range ps.Idle {
			if deleted[sb.ID] {
				continue
			}
			if !found || sb.LastUsed.Before(best.LastUsed) || (sb.LastUsed.Equal(best.LastUsed) && sb.ID < best.ID) {
				best, from, found = sb, ps, true
			}
		}
	}
	return best, from, found
}

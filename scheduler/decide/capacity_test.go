package decide

import (
	"reflect"
	"testing"
	"time"
)

func TestFitPlan(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	const mi = 1 << 20
	// One worker of 1 GiB and 2000m: memory binds (pools ask 100m each).
	one := []WorkerState{{ID: "w1", CPUMilli: 2000, MemoryBytes: 1024 * mi}}
	pool := func(fn, tenant string, memMi int64, busy, waiting int, idle ...IdleSandbox) PoolState {
		return PoolState{Function: fn, Tenant: tenant, CPUMilli: 100, MemoryBytes: memMi * mi, Busy: busy, Waiting: waiting, Idle: idle}
	}
	idle := func(id string, ago time.Duration) IdleSandbox {
		return IdleSandbox{ID: id, LastUsed: now.Add(-ago), Worker: "w1"}
	}
	reserved := func(memMi int64) []WorkerState {
		out := append([]WorkerState(nil), one...)
		out[0].ReservedMemoryBytes = memMi * mi
		return out
	}
	tests := []struct {
		name    string
		plan    map[string]int
		deletes map[string][]string
		pools   []PoolState
		workers []WorkerState
		quotas  map[string]Quota
		want    Fit
	}{
		{
			name:    "creations beyond the room wait",
			plan:    map[string]int{"a/w/f": 6},
			pools:   []PoolState{pool("a/w/f", "a", 256, 0, 6)},
			workers: one,
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"a/w/f": 4}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/f": 2}},
		},
		{
			name:  "two tenants share the room by dominant share, whoever asked more",
			plan:  map[string]int{"a/w/f": 8, "b/w/g": 2},
			pools: []PoolState{pool("a/w/f", "a", 128, 0, 8), pool("b/w/g", "b", 128, 0, 2)},
			// 8 slots of 128 MiB: b gets both it asked for, a the rest.
			workers: one,
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"a/w/f": 6, "b/w/g": 2}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/f": 2}},
		},
		{
			name:    "weights share the room in proportion",
			plan:    map[string]int{"a/w/f": 8, "b/w/g": 8},
			pools:   []PoolState{pool("a/w/f", "a", 128, 0, 8), pool("b/w/g", "b", 128, 0, 8)},
			quotas:  map[string]Quota{"a": {Weight: 3}},
			workers: one,
			// 8 slots of 128 MiB: a of weight 3 gets 6, b of weight 1 gets 2.
			want: Fit{Plan: ScalePlan{Create: map[string]int{"a/w/f": 6, "b/w/g": 2}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/f": 2, "b/w/g": 6}},
		},
		{
			name:    "a weighted tenant alone takes the whole room",
			plan:    map[string]int{"b/w/g": 8},
			pools:   []PoolState{pool("b/w/g", "b", 128, 0, 8)},
			quotas:  map[string]Quota{"a": {Weight: 3}, "b": {Weight: 0.5}},
			workers: one,
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"b/w/g": 8}, Delete: map[string][]string{}}, Unplaceable: map[string]int{}},
		},
		{
			name:    "cpu binds as memory does",
			plan:    map[string]int{"a/w/f": 3},
			pools:   []PoolState{{Function: "a/w/f", Tenant: "a", CPUMilli: 800, MemoryBytes: mi, Waiting: 3}},
			workers: one,
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"a/w/f": 2}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/f": 1}},
		},
		{
			name:    "a tenant already holding the machine yields the next room",
			plan:    map[string]int{"a/w/f": 1, "b/w/g": 1},
			pools:   []PoolState{pool("a/w/f", "a", 256, 3, 1), pool("b/w/g", "b", 256, 0, 1)},
			workers: reserved(768),
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"b/w/g": 1}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/f": 1}},
		},
		{
			name: "idle sandboxes of other pools make room, least recently used first",
			plan: map[string]int{"b/w/g": 1},
			pools: []PoolState{pool("a/w/f", "a", 512, 0, 0, idle("f1", time.Minute), idle("f2", time.Hour)),
				pool("b/w/g", "b", 512, 0, 1)},
			workers: reserved(1024),
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"b/w/g": 1}, Delete: map[string][]string{"a/w/f": {"f2"}}}, Unplaceable: map[string]int{}, Evicted: []string{"a/w/f"}},
		},
		{
			name:    "a tenant above its share does not take the warm sandbox of one below it",
			plan:    map[string]int{"a/w/f": 1},
			pools:   []PoolState{pool("a/w/f", "a", 256, 3, 1), pool("b/w/g", "b", 256, 0, 0, idle("g1", IdleLent/2))},
			workers: reserved(1024),
			want:    Fit{Plan: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/f": 1}},
		},
		{
			name:    "but takes its room once it has been idle a while",
			plan:    map[string]int{"a/w/f": 1},
			pools:   []PoolState{pool("a/w/f", "a", 256, 3, 1), pool("b/w/g", "b", 256, 0, 0, idle("g1", IdleLent))},
			workers: reserved(1024),
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"a/w/f": 1}, Delete: map[string][]string{"b/w/g": {"g1"}}}, Unplaceable: map[string]int{}, Evicted: []string{"b/w/g"}},
		},
		{
			// An evicted pool's demand window still asks for a sandbox;
			// placing it would take the room back, and the next decision
			// would evict it again.
			name: "a pool evicted lately is not warmed ahead, but its queue is served",
			plan: map[string]int{"a/w/f": 1, "b/w/g": 1},
			pools: []PoolState{
				{Function: "a/w/f", Tenant: "a", CPUMilli: 100, MemoryBytes: 256 * mi, Evicted: now.Add(-EvictionHold / 2)},
				{Function: "b/w/g", Tenant: "b", CPUMilli: 100, MemoryBytes: 256 * mi, Waiting: 1, Evicted: now.Add(-EvictionHold / 2)},
			},
			workers: one,
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"b/w/g": 1}, Delete: map[string][]string{}}, Unplaceable: map[string]int{}},
		},
		{
			name:    "once the hold is over it is warmed ahead again",
			plan:    map[string]int{"a/w/f": 1},
			pools:   []PoolState{{Function: "a/w/f", Tenant: "a", CPUMilli: 100, MemoryBytes: 256 * mi, Evicted: now.Add(-EvictionHold)}},
			workers: one,
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"a/w/f": 1}, Delete: map[string][]string{}}, Unplaceable: map[string]int{}},
		},
		{
			name:    "an idle sandbox of a pool with a queue is not taken",
			plan:    map[string]int{"b/w/g": 1},
			pools:   []PoolState{pool("a/w/f", "a", 1024, 0, 1, idle("f1", time.Hour)), pool("b/w/g", "b", 512, 0, 1)},
			workers: reserved(1024),
			want:    Fit{Plan: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"b/w/g": 1}},
		},
		{
			name:    "the plan's own deletions free room",
			plan:    map[string]int{"b/w/g": 1},
			deletes: map[string][]string{"a/w/f": {"f1"}},
			pools:   []PoolState{pool("a/w/f", "a", 1024, 0, 0, idle("f1", time.Hour)), pool("b/w/g", "b", 1024, 0, 1)},
			workers: reserved(1024),
			want:    Fit{Plan: ScalePlan{Create: map[string]int{"b/w/g": 1}, Delete: map[string][]string{"a/w/f": {"f1"}}}, Unplaceable: map[string]int{}},
		},
		{
			name:    "a sandbox larger than any worker can never be served",
			plan:    map[string]int{"a/w/big": 1},
			pools:   []PoolState{pool("a/w/big", "a", 2048, 0, 1)},
			workers: one,
			want:    Fit{Plan: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/big": 1}, Never: []string{"a/w/big"}},
		},
		{
			name:    "a tenant holding the machine yields a busy sandbox to one that has none",
			plan:    map[string]int{"a/w/f": 3, "b/w/g": 1},
			pools:   []PoolState{pool("a/w/f", "a", 256, 4, 3), pool("b/w/g", "b", 256, 0, 1)},
			workers: reserved(1024),
			want: Fit{Plan: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}},
				Unplaceable: map[string]int{"a/w/f": 3, "b/w/g": 1}, Yield: map[string]int{"a/w/f": 1}},
		},
		{
			name:    "no yield that would leave the giver with less than the taker",
			plan:    map[string]int{"b/w/g": 1},
			pools:   []PoolState{pool("a/w/f", "a", 512, 1, 0), pool("b/w/g", "b", 512, 1, 1)},
			workers: reserved(1024),
			want: Fit{Plan: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}},
				Unplaceable: map[string]int{"b/w/g": 1}},
		},
		{
			name:    "a draining worker takes nothing",
			plan:    map[string]int{"a/w/f": 1},
			pools:   []PoolState{pool("a/w/f", "a", 100, 0, 1)},
			workers: []WorkerState{{ID: "w1", CPUMilli: 2000, MemoryBytes: 1024 * mi, Draining: true}},
			want:    Fit{Plan: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/f": 1}, Never: []string{"a/w/f"}},
		},
		{
			// A new leader that has not heard a heartbeat yet.
			name:  "no worker at all: demand waits, nothing is too big",
			plan:  map[string]int{"a/w/f": 1},
			pools: []PoolState{pool("a/w/f", "a", 100, 0, 1)},
			want:  Fit{Plan: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}}, Unplaceable: map[string]int{"a/w/f": 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := ScalePlan{Create: tc.plan, Delete: map[string][]string{}}
			for f, ids := range tc.deletes {
				plan.Delete[f] = ids
			}
			got := FitPlan(now, plan, tc.pools, tc.workers, tc.quotas)
			if len(got.Yield) == 0 {
				got.Yield = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FitPlan =\n%+v\nwant\n%+v", got, tc.want)
			}
			if len(tc.workers) == 0 {
				return
			}
			// Whatever it plans fits: the worker's memory is not
			// over-committed.
			mem := tc.workers[0].ReservedMemoryBytes
			for _, ps := range tc.pools {
				mem += int64(got.Plan.Create[ps.Function]-len(got.Plan.Delete[ps.Function])) * ps.MemoryBytes
			}
			if mem > tc.workers[0].MemoryBytes {
				t.Errorf("the plan reserves %d MiB on a worker of %d MiB", mem/mi, tc.workers[0].MemoryBytes/mi)
			}
		})
	}
}

package decide

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLimitToQuotas(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	pool := func(fn, tenant string, cpu int64, idle, busy, creating, waiting int) PoolState {
		ps := PoolState{Function: fn, Tenant: tenant, CPUMilli: cpu, MemoryBytes: 64 << 20, Busy: busy, Creating: creating, Waiting: waiting}
		for i := range idle {
			ps.Idle = append(ps.Idle, IdleSandbox{ID: fn + "-idle-" + string(rune('a'+i)), LastUsed: now.Add(-time.Duration(i+1) * time.Minute)})
		}
		return ps
	}
	tests := []struct {
		name        string
		plan        ScalePlan
		pools       []PoolState
		quotas      map[string]Quota
		want        ScalePlan
		wantRefused []string
	}{
		{
			name:   "no quotas: the plan as it is",
			plan:   ScalePlan{Create: map[string]int{"a/w/f": 5}, Delete: map[string][]string{}},
			pools:  []PoolState{pool("a/w/f", "a", 100, 0, 0, 0, 5)},
			quotas: map[string]Quota{"b": {Sandboxes: 1}},
			want:   ScalePlan{Create: map[string]int{"a/w/f": 5}, Delete: map[string][]string{}},
		},
		{
			name:   "creations are trimmed to the sandbox count",
			plan:   ScalePlan{Create: map[string]int{"a/w/f": 5}, Delete: map[string][]string{}},
			pools:  []PoolState{pool("a/w/f", "a", 100, 0, 1, 0, 5)},
			quotas: map[string]Quota{"a": {Sandboxes: 3}},
			want:   ScalePlan{Create: map[string]int{"a/w/f": 2}, Delete: map[string][]string{}},
		},
		{
			name:   "and to the CPU",
			plan:   ScalePlan{Create: map[string]int{"a/w/f": 5}, Delete: map[string][]string{}},
			pools:  []PoolState{pool("a/w/f", "a", 500, 0, 0, 0, 5)},
			quotas: map[string]Quota{"a": {CPUMilli: 1200}},
			want:   ScalePlan{Create: map[string]int{"a/w/f": 2}, Delete: map[string][]string{}},
		},
		{
			name:   "another tenant is not touched by a's quota",
			plan:   ScalePlan{Create: map[string]int{"a/w/f": 5, "b/w/f": 5}, Delete: map[string][]string{}},
			pools:  []PoolState{pool("a/w/f", "a", 100, 0, 2, 0, 5), pool("b/w/f", "b", 100, 0, 0, 0, 5)},
			quotas: map[string]Quota{"a": {Sandboxes: 2}},
			want:   ScalePlan{Create: map[string]int{"b/w/f": 5}, Delete: map[string][]string{}},
		},
		{
			name: "idle sandboxes of the tenant's other functions make room, least recently used first",
			plan: ScalePlan{Create: map[string]int{"a/w/g": 1}, Delete: map[string][]string{}},
			pools: []PoolState{pool("a/w/f", "a", 100, 2, 0, 0, 0), pool("a/w/g", "a", 100, 0, 0, 0, 1),
				pool("b/w/h", "b", 100, 1, 0, 0, 0)},
			quotas: map[string]Quota{"a": {Sandboxes: 2}, "b": {Sandboxes: 1}},
			want:   ScalePlan{Create: map[string]int{"a/w/g": 1}, Delete: map[string][]string{"a/w/f": {"a/w/f-idle-b"}}},
		},
		{
			name:   "the plan's own deletions free room",
			plan:   ScalePlan{Create: map[string]int{"a/w/g": 1}, Delete: map[string][]string{"a/w/f": {"a/w/f-idle-a"}}},
			pools:  []PoolState{pool("a/w/f", "a", 100, 1, 0, 0, 0), pool("a/w/g", "a", 100, 0, 0, 0, 1)},
			quotas: map[string]Quota{"a": {Sandboxes: 1}},
			want:   ScalePlan{Create: map[string]int{"a/w/g": 1}, Delete: map[string][]string{"a/w/f": {"a/w/f-idle-a"}}},
		},
		{
			name:        "a queue nothing can serve is refused",
			plan:        ScalePlan{Create: map[string]int{"a/w/g": 2}, Delete: map[string][]string{}},
			pools:       []PoolState{pool("a/w/f", "a", 100, 0, 2, 0, 3), pool("a/w/g", "a", 100, 0, 0, 0, 2)},
			quotas:      map[string]Quota{"a": {Sandboxes: 2}},
			want:        ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}},
			wantRefused: []string{"a/w/g"},
		},
		{
			name:   "a queue with a busy sandbox waits for it",
			plan:   ScalePlan{Create: map[string]int{"a/w/f": 3}, Delete: map[string][]string{}},
			pools:  []PoolState{pool("a/w/f", "a", 100, 0, 2, 0, 3)},
			quotas: map[string]Quota{"a": {Sandboxes: 2}},
			want:   ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}},
		},
		{
			name: "the longest waiting queue chooses first",
			plan: ScalePlan{Create: map[string]int{"a/w/f": 1, "a/w/g": 1}, Delete: map[string][]string{}},
			pools: []PoolState{{Function: "a/w/f", Tenant: "a", CPUMilli: 100, Waiting: 1, OldestWait: time.Second},
				{Function: "a/w/g", Tenant: "a", CPUMilli: 100, Waiting: 1, OldestWait: 3 * time.Second}},
			quotas:      map[string]Quota{"a": {Sandboxes: 1}},
			want:        ScalePlan{Create: map[string]int{"a/w/g": 1}, Delete: map[string][]string{}},
			wantRefused: []string{"a/w/f"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, refused := LimitToQuotas(tc.plan, tc.pools, tc.quotas)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan = %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(refused, tc.wantRefused) {
				t.Errorf("refused = %v, want %v", refused, tc.wantRefused)
			}
		})
	}
}

func TestQuotaAdmit(t *testing.T) {
	q := Quota{CPUMilli: 1000, MemoryBytes: 1 << 30}
	if err := q.Admit(1000, 1<<30); err != nil {
		t.Errorf("a sandbox the size of the quota: %v", err)
	}
	if err := q.Admit(2000, 2<<30); err == nil || !strings.Contains(err.Error(), "cpu 2000m") || !strings.Contains(err.Error(), "memory") {
		t.Errorf("Admit(2000m, 2Gi) = %v", err)
	}
	if err := (Quota{}).Admit(1<<20, 1<<40); err != nil {
		t.Errorf("no quota: %v", err)
	}
}

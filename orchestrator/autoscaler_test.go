package orchestrator

import (
	"reflect"
	"testing"
	"time"
)

func TestScale(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	policy := AutoscalerPolicy{KeepAlive: time.Minute, MaxCreatesPerFunction: 10}
	tests := []struct {
		name  string
		pools []PoolState
		want  ScalePlan
	}{
		{
			name:  "queued requests get a sandbox each",
			pools: []PoolState{{Function: "f", Waiting: 3}},
			want:  ScalePlan{Create: map[string]int{"f": 3}, Delete: map[string][]string{}},
		},
		{
			name:  "creations already under way count",
			pools: []PoolState{{Function: "f", Waiting: 3, Creating: 2}},
			want:  ScalePlan{Create: map[string]int{"f": 1}, Delete: map[string][]string{}},
		},
		{
			name:  "a burst is capped per decision",
			pools: []PoolState{{Function: "f", Waiting: 50}},
			want:  ScalePlan{Create: map[string]int{"f": 10}, Delete: map[string][]string{}},
		},
		{
			name: "idle past the keep-alive goes, oldest first, younger stays",
			pools: []PoolState{{Function: "f", Idle: []IdleSandbox{
				{ID: "young", LastUsed: ago(10 * time.Second)},
				{ID: "old", LastUsed: ago(5 * time.Minute)},
				{ID: "older", LastUsed: ago(10 * time.Minute)},
			}}},
			want: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{"f": {"older", "old"}}},
		},
		{
			name: "the floor is kept even when idle",
			pools: []PoolState{{Function: "f", Floor: 2, Idle: []IdleSandbox{
				{ID: "a", LastUsed: ago(time.Hour)},
				{ID: "b", LastUsed: ago(time.Hour)},
				{ID: "c", LastUsed: ago(time.Hour)},
			}}},
			want: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{"f": {"a"}}},
		},
		{
			name:  "the floor is filled",
			pools: []PoolState{{Function: "f", Floor: 3, Busy: 1}},
			want:  ScalePlan{Create: map[string]int{"f": 2}, Delete: map[string][]string{}},
		},
		{
			name: "busy sandboxes are never deleted; idle within keep-alive stays",
			pools: []PoolState{
				{Function: "f", Busy: 4},
				{Function: "g", Idle: []IdleSandbox{{ID: "x", LastUsed: ago(59 * time.Second)}}},
			},
			want: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scale(now, tt.pools, policy)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Scale() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

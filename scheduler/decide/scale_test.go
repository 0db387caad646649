package decide

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
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
			name: "a short function queues behind its busy sandboxes rather than start one per waiter",
			// 2 busy × (400ms / 5ms) = 160 turns within a cold start.
			pools: []PoolState{{Function: "f", Busy: 2, Waiting: 30, StableConcurrency: 2, PanicConcurrency: 2,
				MeanExec: 5 * time.Millisecond, ColdStart: 400 * time.Millisecond}},
			want: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}},
		},
		{
			name: "waiters beyond what the busy sandboxes serve within a cold start get sandboxes",
			// 2 busy × (400ms / 100ms) = 8 served; 3 left, 1 being created.
			pools: []PoolState{{Function: "f", Busy: 2, Creating: 1, Waiting: 11, StableConcurrency: 2, PanicConcurrency: 2,
				MeanExec: 100 * time.Millisecond, ColdStart: 400 * time.Millisecond}},
			want: ScalePlan{Create: map[string]int{"f": 2}, Delete: map[string][]string{}},
		},
		{
			name: "a function slower than a cold start gets a sandbox per waiter",
			pools: []PoolState{{Function: "f", Busy: 2, Waiting: 3, StableConcurrency: 2, PanicConcurrency: 2,
				MeanExec: 2 * time.Second, ColdStart: 400 * time.Millisecond}},
			want: ScalePlan{Create: map[string]int{"f": 3}, Delete: map[string][]string{}},
		},
		{
			name: "a request that waited a whole cold start gets a sandbox: the busy ones hang",
			pools: []PoolState{{Function: "f", Busy: 2, Waiting: 3, StableConcurrency: 2, PanicConcurrency: 2,
				MeanExec: 5 * time.Millisecond, ColdStart: 400 * time.Millisecond, OldestWait: 450 * time.Millisecond}},
			want: ScalePlan{Create: map[string]int{"f": 3}, Delete: map[string][]string{}},
		},
		{
			name: "unmeasured times: every waiter counts",
			pools: []PoolState{{Function: "f", Busy: 2, Waiting: 3, StableConcurrency: 2, PanicConcurrency: 2,
				ColdStart: 400 * time.Millisecond}},
			want: ScalePlan{Create: map[string]int{"f": 3}, Delete: map[string][]string{}},
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
		{
			name: "a pool's own keep-alive overrides the policy's, longer or shorter",
			pools: []PoolState{
				{Function: "long", KeepAlive: 10 * time.Minute, Idle: []IdleSandbox{{ID: "kept", LastUsed: ago(5 * time.Minute)}}},
				{Function: "short", KeepAlive: time.Nanosecond, Idle: []IdleSandbox{{ID: "gone", LastUsed: ago(time.Second)}}},
			},
			want: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{"short": {"gone"}}},
		},
		{
			name:  "stable demand sizes the pool: 3.2 in flight on average needs 4",
			pools: []PoolState{{Function: "f", Busy: 2, StableConcurrency: 3.2, PanicConcurrency: 2}},
			want:  ScalePlan{Create: map[string]int{"f": 2}, Delete: map[string][]string{}},
		},
		{
			name: "idle past the keep-alive stays while stable demand needs it",
			pools: []PoolState{{Function: "f", StableConcurrency: 1.5, Idle: []IdleSandbox{
				{ID: "a", LastUsed: ago(2 * time.Minute)},
				{ID: "b", LastUsed: ago(3 * time.Minute)},
				{ID: "c", LastUsed: ago(4 * time.Minute)},
			}}},
			want: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{"f": {"c"}}},
		},
		{
			name:  "a burst past twice the pool panics and scales to the burst",
			pools: []PoolState{{Function: "f", Busy: 2, StableConcurrency: 2.5, PanicConcurrency: 7}},
			want:  ScalePlan{Create: map[string]int{"f": 5}, Delete: map[string][]string{}},
		},
		{
			name: "a pool in panic mode deletes nothing, even idle past the keep-alive",
			pools: []PoolState{{Function: "f", Busy: 1, Panicking: true, Idle: []IdleSandbox{
				{ID: "a", LastUsed: ago(time.Hour)}, {ID: "b", LastUsed: ago(time.Hour)}, {ID: "c", LastUsed: ago(time.Hour)}, {ID: "d", LastUsed: ago(time.Hour)},
			}}},
			want: ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}},
		},
		{
			name:  "below the threshold the panic window is ignored",
			pools: []PoolState{{Function: "f", Busy: 4, StableConcurrency: 4, PanicConcurrency: 7}},
			want:  ScalePlan{Create: map[string]int{}, Delete: map[string][]string{}},
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

func TestScaleSandboxCap(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	policy := AutoscalerPolicy{KeepAlive: time.Minute, MaxCreatesPerFunction: 10, MaxSandboxesPerFunction: 6}
	tests := []struct {
		name string
		pool PoolState
		want map[string]int
	}{
		{"waiters past the cap queue", PoolState{Function: "f", Busy: 4, Waiting: 5}, map[string]int{"f": 2}},
		{"creations under way count against the cap", PoolState{Function: "f", Busy: 4, Creating: 2, Waiting: 5}, map[string]int{}},
		{"a pool at the cap creates nothing", PoolState{Function: "f", Busy: 6, Waiting: 9}, map[string]int{}},
		{"under the cap it is not in the way", PoolState{Function: "f", Waiting: 3}, map[string]int{"f": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scale(now, []PoolState{tt.pool}, policy)
			if !reflect.DeepEqual(got.Create, tt.want) {
				t.Fatalf("Scale().Create = %v, want %v", got.Create, tt.want)
			}
		})
	}
}

// TestScalePoolDeletesOldestExpired checks the deletions of ScalePool,
// which sorts only the idle sandboxes past the keep-alive, against sorting
// them all and taking the oldest past it down to the desired count, on
// random pools with many ties of LastUsed, in and out of order.
func TestScalePoolDeletesOldestExpired(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	policy := AutoscalerPolicy{KeepAlive: 10 * time.Second}
	reference := func(ps PoolState, desired int) []string {
		idle := slices.Clone(ps.Idle)
		slices.SortFunc(idle, func(a, b IdleSandbox) int {
			return cmp.Or(a.LastUsed.Compare(b.LastUsed), strings.Compare(a.ID, b.ID))
		})
		total := len(ps.Idle) + ps.Busy
		var del []string
		for _, sb := range idle {
			if total <= desired || now.Sub(sb.LastUsed) < policy.KeepAlive {
				break
			}
			del = append(del, sb.ID)
			total--
		}
		return del
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		ps := PoolState{Function: "f", Busy: rng.IntN(3)}
		for i := range rng.IntN(12) {
			ago := time.Duration(rng.IntN(20)) * time.Second
			ps.Idle = append(ps.Idle, IdleSandbox{ID: fmt.Sprintf("s%02d", i), LastUsed: now.Add(-ago)})
		}
		ps.Floor = rng.IntN(len(ps.Idle) + ps.Busy + 1) // no creation
		if rng.IntN(2) == 0 {
			slices.SortFunc(ps.Idle, func(a, b IdleSandbox) int { return a.LastUsed.Compare(b.LastUsed) })
		}
		idle := slices.Clone(ps.Idle)
		create, del := ScalePool(now, ps, policy)
		if create != 0 {
			t.Fatalf("%+v: create %d, want 0", ps, create)
		}
		if want := reference(ps, ps.Floor); !slices.Equal(del, want) {
			t.Fatalf("%+v: delete %v, want %v", ps, del, want)
		}
		if !slices.Equal(ps.Idle, idle) {
			t.Fatalf("ScalePool changed its input: %v, was %v", ps.Idle, idle)
		}
	}
}

// TestScalePoolBurst checks that ScalePoolInto (new memory) gives
// Desired's burst and ScalePool's decision, which with a burst does not
// depend on Panicking, and that ScalePoolInto, with memory lent from one
// call to the next, gives the same.
func TestScalePoolBurst(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	policy := AutoscalerPolicy{KeepAlive: 10 * time.Second}
	var scratch ScaleScratch
	withDefaults := policy.WithDefaults()
	rng := rand.New(rand.NewPCG(5, 6))
	bursts := 0
	for range 2000 {
		ps := PoolState{Function: "f", Busy: rng.IntN(4), Creating: rng.IntN(2), Waiting: rng.IntN(3), Floor: rng.IntN(3),
			StableConcurrency: rng.Float64() * 4, PanicConcurrency: rng.Float64() * 12, Panicking: rng.IntN(2) == 0}
		for i := range rng.IntN(6) {
			ps.Idle = append(ps.Idle, IdleSandbox{ID: fmt.Sprintf("s%02d", i), LastUsed: now.Add(-time.Duration(rng.IntN(20)) * time.Second)})
		}
		create, del, burst := ScalePoolInto(now, &ps, &withDefaults, nil)
		if _, want := Desired(ps, policy); burst != want {
			t.Fatalf("%+v: burst %v, want %v", ps, burst, want)
		}
		if c, d, b := ScalePoolInto(now, &ps, &withDefaults, &scratch); c != create || !slices.Equal(d, del) || b != burst {
			t.Fatalf("%+v: ScalePoolInto lent memory %d %v %v, new memory %d %v %v", ps, c, d, b, create, del, burst)
		}
		for _, panicking := range []bool{ps.Panicking, true} {
			if !burst && panicking != ps.Panicking {
				continue
			}
			ps.Panicking = panicking
			if c, d := ScalePool(now, ps, policy); c != create || !slices.Equal(d, del) {
				t.Fatalf("%+v: ScalePoolInto %d %v, ScalePool %d %v", ps, create, del, c, d)
			}
		}
		if burst {
			bursts++
		}
	}
	if bursts == 0 || bursts == 2000 {
		t.Errorf("%d bursts in 2000 pools: want some, not all", bursts)
	}
}

// TestScalePoolIntoAllocates checks that a deletion through ScalePoolInto
// allocates nothing once its scratch has grown.
func TestScalePoolIntoAllocates(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ps := PoolState{Function: "f", Idle: []IdleSandbox{{ID: "a", LastUsed: now.Add(-time.Minute)}, {ID: "b", LastUsed: now.Add(-time.Minute)}}}
	policy := AutoscalerPolicy{KeepAlive: time.Second}.WithDefaults()
	var scratch ScaleScratch
	if _, del, _ := ScalePoolInto(now, &ps, &policy, &scratch); !slices.Equal(del, []string{"a", "b"}) {
		t.Fatalf("delete %v, want [a b]", del)
	}
	if n := testing.AllocsPerRun(100, func() { ScalePoolInto(now, &ps, &policy, &scratch) }); n != 0 {
		t.Errorf("%v allocations a decision, want 0", n)
	}
}

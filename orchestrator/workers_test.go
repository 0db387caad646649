package orchestrator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker/protocol"
)

// TestSweep checks when Sweep declares a worker dead: after missing four
// beats, later by as much as heartbeats arrive late (their transit past
// each worker's usual, the largest in the last two windows of
// heartbeatLag), at most maxBehind later; a heartbeat on time handled
// after a late one does not take the grace back.
func TestSweep(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const iv = 200 * time.Millisecond
	beat := func(w *Workers, id string, sent, handled time.Time) {
		w.Observe(protocol.Heartbeat{WorkerID: id, CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: iv, Sent: sent}, handled)
	}
	tests := []struct {
		name string
		// lag is how late a heartbeat of the live worker "b" is handled,
		// past the usual 1 ms transit, just before the sweep.
		lag time.Duration
		// onTimeAfter: the live worker "c" beats on time after b's late
		// heartbeat, just before the sweep.
		onTimeAfter bool
		at          time.Duration // when the sweep runs, after a's last beat
		want        []string
	}{
		{"within four beats: alive", 0, false, 790 * time.Millisecond, nil},
		{"past four beats: dead", 0, false, 810 * time.Millisecond, []string{"a"}},
		{"heartbeats 300 ms late: alive 300 ms longer", 300 * time.Millisecond, false, 1090 * time.Millisecond, nil},
		{"heartbeats 300 ms late: dead after that", 300 * time.Millisecond, false, 1110 * time.Millisecond, []string{"a"}},
		{"one on time after a late one: still alive", 300 * time.Millisecond, true, 1090 * time.Millisecond, nil},
		{"grace is capped", 8 * time.Second, false, missedHeartbeats*iv + maxBehind - 10*time.Millisecond, nil},
		{"grace is capped: dead past the cap", 8 * time.Second, false, missedHeartbeats*iv + maxBehind + 10*time.Millisecond, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(nil)
			// Every worker beats with 1 ms transit; then a stops, and b
			// and c beat on until the sweep.
			for i := range 3 {
				sent := t0.Add(time.Duration(i) * iv)
				for _, id := range []string{"a", "b", "c"} {
					beat(w, id, sent, sent.Add(time.Millisecond))
				}
			}
			last := t0.Add(2*iv + time.Millisecond)
			sweep := last.Add(tt.at)
			for sent := t0.Add(3 * iv); sent.Add(20 * time.Millisecond).Before(sweep); sent = sent.Add(iv) {
				beat(w, "b", sent, sent.Add(time.Millisecond))
				beat(w, "c", sent, sent.Add(time.Millisecond))
			}
			handled := sweep.Add(-10 * time.Millisecond)
			beat(w, "b", handled.Add(-time.Millisecond-tt.lag), handled)
			if tt.onTimeAfter {
				beat(w, "c", handled.Add(4*time.Millisecond), handled.Add(5*time.Millisecond))
			}
			got := w.Sweep(sweep)
			if !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("Sweep %v after a's last beat = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

// TestSweepMassSilence: when most of the cluster falls silent at once,
// the sweep takes it for the path's stall and waits maxBehind more
// before declaring them dead; a worker silent alone, or one of two, is
// declared dead after its four beats as ever.
func TestSweepMassSilence(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	const iv = 200 * time.Millisecond
	tests := []struct {
		name            string
		workers, silent int
		at              time.Duration // after the silent ones' last beat
		wantDead        int
	}{
		{"one of one, past four beats", 1, 1, 810 * time.Millisecond, 1},
		{"one of two", 2, 1, 810 * time.Millisecond, 1},
		{"half of ten", 10, 5, 810 * time.Millisecond, 5},
		{"six of ten: held", 10, 6, 810 * time.Millisecond, 0},
		{"all ten: held", 10, 10, missedHeartbeats*iv + maxBehind - 10*time.Millisecond, 0},
		{"all ten: dead past the cap", 10, 10, missedHeartbeats*iv + maxBehind + 10*time.Millisecond, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(nil)
			beat := func(i int, at time.Time) {
				w.Observe(protocol.Heartbeat{WorkerID: fmt.Sprintf("w%02d", i), CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: iv, Sent: at}, at)
			}
			for i := range tt.workers {
				beat(i, t0)
			}
			sweep := t0.Add(tt.at)
			// The others beat on, on time, up to the sweep.
			for at := t0.Add(iv); !at.After(sweep); at = at.Add(iv) {
				for i := tt.silent; i < tt.workers; i++ {
					beat(i, at)
				}
			}
			if got := w.Sweep(sweep); len(got) != tt.wantDead {
				t.Fatalf("Sweep %v after %d of %d workers fell silent: dead %v, want %d", tt.at, tt.silent, tt.workers, got, tt.wantDead)
			}
		})
	}
}

// TestSweepAbsorbsAClockStep: a worker whose clock steps back 3 s makes
// its heartbeats look late. That grants extra grace for a while (capped),
// but within seconds the baseline absorbs the step, and a dead worker is
// again declared after four missed beats.
func TestSweepAbsorbsAClockStep(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const iv = 200 * time.Millisecond
	w := NewWorkers(nil)
	beat := func(id string, sent, handled time.Time) {
		w.Observe(protocol.Heartbeat{WorkerID: id, CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: iv, Sent: sent}, handled)
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * iv) }
	for i := range 3 {
		beat("a", at(i), at(i).Add(time.Millisecond))
		beat("skewed", at(i), at(i).Add(time.Millisecond))
	}
	// From beat 3 on, skewed's clock runs 3 s behind; a beats on until 99.
	for i := 3; i < 100; i++ {
		beat("a", at(i), at(i).Add(time.Millisecond))
		beat("skewed", at(i).Add(-3*time.Second), at(i).Add(time.Millisecond))
		if g := w.grace(at(i).Add(time.Millisecond)); i == 3 && g != 3*time.Second {
			t.Fatalf("right after the step: grace %v, want the step, 3s", g)
		}
	}
	if g := w.grace(at(99).Add(time.Millisecond)); g > 100*time.Millisecond {
		t.Fatalf("19 s after the step: grace %v, want the step absorbed (< 100ms)", g)
	}
	last := at(99).Add(time.Millisecond)
	// skewed keeps beating; a is silent since its beat 99.
	beat("skewed", at(103).Add(-3*time.Second), at(103).Add(time.Millisecond))
	if got := w.Sweep(last.Add(900 * time.Millisecond)); !reflect.DeepEqual(got, []string{"a"}) {
		t.Fatalf("Sweep 900ms after a's last beat = %v, want [a]", got)
	}
}

// TestReserveDecidesAsPlaceOverSnapshot drives a worker table through
// random heartbeats (with varying transit, so the grace for the
// orchestrator's backlog moves), silences, sweeps, drains, suspicions,
// capacity changes, reservations and releases, and checks every
// Reserve, which places on a view kept between calls, against the pure
// Place over a fresh Snapshot: on a cluster no larger than the
// placement sample it picks the same worker (or fails) exactly; on a
// larger one it fails exactly when Place does and otherwise picks a
// worker of the snapshot that can hold the sandbox.
func TestReserveDecidesAsPlaceOverSnapshot(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		same    bool // Reserve must pick Place's worker
	}{
		{"cluster within the sample", decide.DefaultPlacementSample - 4, true},
		{"cluster larger than the sample", 3 * decide.DefaultPlacementSample, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(6) {
				reserveWalk(t, seed, tt.workers, tt.same)
			}
		})
	}
}

func reserveWalk(t *testing.T, seed uint64, n int, same bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	w := NewWorkers(nil)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	up := make([]bool, n)
	memory := make([]int64, n)
	beat := func(i int) {
		transit := time.Duration(1+rng.IntN(200)) * time.Millisecond
		w.Observe(protocol.Heartbeat{WorkerID: fmt.Sprintf("w%02d", i), CPUMilli: 4000, MemoryBytes: memory[i],
			Interval: 200 * time.Millisecond, Sent: now.Add(-transit)}, now)
	}
	for i := range n {
		up[i], memory[i] = true, int64(1+rng.IntN(4))<<30
		beat(i)
	}
	type booking struct {
		id  string
		req decide.PlacementRequest
	}
	var booked []booking
	reserves, failures, differed := 0, 0, 0
	for step := range 250 * n {
		now = now.Add(time.Duration(rng.IntN(120)) * time.Millisecond)
		i := rng.IntN(n)
		id := fmt.Sprintf("w%02d", i)
		switch op := rng.IntN(20); {
		case op < 6:
			if up[i] {
				beat(i)
			}
		case op == 6:
			up[i] = !up[i]
		case op == 7:
			w.Sweep(now)
		case op == 8:
			w.Drain(id, rng.IntN(2) == 0)
		case op == 9:
			w.Suspect(id, now.Add(time.Duration(rng.IntN(500))*time.Millisecond))
		case op == 10:
			memory[i] = int64(1+rng.IntN(4)) << 30
		case op < 14 && len(booked) > 0:
			k := rng.IntN(len(booked))
			w.Release(booked[k].id, booked[k].req)
			booked = slices.Delete(booked, k, k+1)
		default:
			req := decide.PlacementRequest{CPUMilli: int64(100 * (1 + rng.IntN(10))), MemoryBytes: int64(1+rng.IntN(8)) << 27}
			snap := w.Snapshot(now)
			want, wantErr := decide.Place(snap, req)
			got, err := w.Reserve(req, now)
			if (err == nil) != (wantErr == nil) || (same && got != want) {
				t.Fatalf("seed %d step %d: Reserve = %q, %v; decide.Place over Snapshot = %q, %v", seed, step, got, err, want, wantErr)
			}
			reserves++
			if err != nil {
				failures++
				continue
			}
			if got != want {
				differed++
			}
			k := slices.IndexFunc(snap, func(s decide.WorkerState) bool { return s.ID == got })
			if k < 0 || snap[k].Draining || snap[k].ReservedCPUMilli+req.CPUMilli > snap[k].CPUMilli || snap[k].ReservedMemoryBytes+req.MemoryBytes > snap[k].MemoryBytes {
				t.Fatalf("seed %d step %d: Reserve picked %q, not a worker of the snapshot that can hold %+v", seed, step, got, req)
			}
			booked = append(booked, booking{got, req})
		}
	}
	if reserves < 500 || failures == 0 || failures == reserves {
		t.Fatalf("seed %d: %d reservations, %d failed: the walk should exercise both outcomes", seed, reserves, failures)
	}
	if !same && differed == 0 {
		t.Fatalf("seed %d: every pick was Place's: the walk should sample fewer workers than live", seed)
	}
}

// TestReserveSeesAQuietWorkerGraceBringsBack: a worker left out of the
// placement view as quiet (its heartbeats late, not yet declared dead)
// comes back when the orchestrator turns out to be behind on heartbeats:
// the grace grows, and Reserve decides as Place over a fresh Snapshot.
func TestReserveSeesAQuietWorkerGraceBringsBack(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const iv = 200 * time.Millisecond
	w := NewWorkers(nil)
	beat := func(id string, mem int64, sent, handled time.Time) {
		w.Observe(protocol.Heartbeat{WorkerID: id, CPUMilli: 4000, MemoryBytes: mem, Interval: iv, Sent: sent}, handled)
	}
	req := decide.PlacementRequest{CPUMilli: 100, MemoryBytes: 64 << 20}
	reserve := func(now time.Time) string {
		t.Helper()
		want, err := decide.Place(w.Snapshot(now), req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.Reserve(req, now)
		if err != nil || got != want {
			t.Fatalf("Reserve = %q, %v; decide.Place over Snapshot = %q", got, err, want)
		}
		w.Release(got, req)
		return got
	}
	// a has more memory, so it is the less allocated of the two.
	beat("a", 8<<30, t0.Add(-time.Millisecond), t0)
	beat("b", 4<<30, t0.Add(-time.Millisecond), t0)
	if got := reserve(t0); got != "a" {
		t.Fatalf("both live: placed on %s, want a", got)
	}
	// 900 ms on, a has missed four beats: left out as quiet.
	t1 := t0.Add(900 * time.Millisecond)
	beat("b", 4<<30, t1.Add(-time.Millisecond), t1)
	if got := reserve(t1); got != "b" {
		t.Fatalf("a quiet: placed on %s, want b", got)
	}
	// b's next beat is handled 300 ms late: the orchestrator is behind,
	// the grace grows past a's silence, and a is placeable again.
	t2 := t1.Add(10 * time.Millisecond)
	beat("b", 4<<30, t2.Add(-301*time.Millisecond), t2)
	if got := reserve(t2); got != "a" {
		t.Fatalf("the orchestrator behind: placed on %s, want a again", got)
	}
}

// TestStranded checks the life of stranded sandboxes: a dead worker's are
// counted until a worker on its machine reports it reclaimed them, or the
// same incarnation comes back; a reclaim heard before the death is
// remembered; a worker that died with nothing, or a fake one, strands
// nothing.
func TestStranded(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	hb := func(id, inc string, sandboxes int, reclaimed ...string) protocol.Heartbeat {
		return protocol.Heartbeat{WorkerID: id, Runtime: "containerd", Incarnation: inc, Machine: "m1", Sandboxes: sandboxes,
			CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: 200 * time.Millisecond, Sent: t0, Reclaimed: reclaimed}
	}
	type step struct {
		beat  *protocol.Heartbeat // observed at t0
		death string              // worker declared dead, with routed sandboxes below
		route int
		want  int // Stranded() after the step
	}
	p := func(h protocol.Heartbeat) *protocol.Heartbeat { return &h }
	tests := []struct {
		name  string
		steps []step
		view  map[string]int // Stranded per worker in Views at the end
	}{
		{"counted until a new worker on the machine reclaims", []step{
			{beat: p(hb("a", "inc-1", 3)), want: 0},
			{death: "a", route: 2, want: 3}, // the heartbeat knew of 3
			{beat: p(hb("b", "inc-2", 0, "inc-1")), want: 0},
		}, map[string]int{"a": 0, "b": 0}},
		{"the router's count when larger", []step{
			{beat: p(hb("a", "inc-1", 1)), want: 0},
			{death: "a", route: 4, want: 4},
		}, map[string]int{"a": 4}},
		{"the same incarnation comes back", []step{
			{beat: p(hb("a", "inc-1", 2)), want: 0},
			{death: "a", route: 2, want: 2},
			{beat: p(hb("a", "inc-1", 2)), want: 0},
		}, map[string]int{"a": 0}},
		{"a reclaim heard before the death counts", []step{
			{beat: p(hb("a", "inc-1", 2)), want: 0},
			{beat: p(hb("b", "inc-2", 0, "inc-1")), want: 0},
			{death: "a", route: 2, want: 0},
		}, map[string]int{"a": 0}},
		{"the worker restarted with its data adopts", []step{
			{beat: p(hb("a", "inc-1", 2)), want: 0},
			{death: "a", route: 2, want: 2},
			{beat: p(hb("a", "inc-3", 2, "inc-1")), want: 0},
		}, map[string]int{"a": 0}},
		{"nothing left, nothing stranded", []step{
			{beat: p(hb("a", "inc-1", 0)), want: 0},
			{death: "a", route: 0, want: 0},
		}, map[string]int{"a": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(nil)
			for i, st := range tt.steps {
				if st.beat != nil {
					w.Observe(*st.beat, t0)
				}
				if st.death != "" {
					w.Strand(st.death, st.route)
				}
				if got := w.Stranded(); got != st.want {
					t.Fatalf("step %d: Stranded() = %d, want %d", i, got, st.want)
				}
			}
			for _, v := range w.Views(t0) {
				if want, ok := tt.view[v.ID]; ok && v.Stranded != want {
					t.Errorf("Views: worker %s stranded %d, want %d", v.ID, v.Stranded, want)
				}
			}
		})
	}
	fake := NewWorkers(nil)
	h := hb("f", "inc-9", 5)
	h.Runtime = "fake"
	fake.Observe(h, t0)
	fake.Strand("f", 5)
	if got := fake.Stranded(); got != 0 {
		t.Errorf("a fake worker stranded %d sandboxes; its sandboxes die with it", got)
	}
}

// TestObserveSeesARestart: a worker that comes back as a new incarnation
// before it was declared dead is restarted (its routed sandboxes are to
// be dropped and adopted again); one declared dead first is only fresh.
func TestObserveSeesARestart(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	hb := func(inc string) protocol.Heartbeat {
		return protocol.Heartbeat{WorkerID: "a", Incarnation: inc, CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: 200 * time.Millisecond, Sent: t0}
	}
	w := NewWorkers(nil)
	steps := []struct {
		inc                    string
		sweep                  bool // declare dead first
		wantFresh, wantRestart bool
	}{
		{"inc-1", false, true, false},
		{"inc-1", false, false, false},
		{"inc-2", false, true, true},
		{"inc-2", false, false, false},
		{"inc-3", true, true, false},
	}
	for i, st := range steps {
		if st.sweep {
			w.Sweep(t0.Add(time.Hour))
		}
		fresh, restarted := w.Observe(hb(st.inc), t0)
		if fresh != st.wantFresh || restarted != st.wantRestart {
			t.Errorf("step %d (%s): Observe = fresh %v, restarted %v; want %v, %v", i, st.inc, fresh, restarted, st.wantFresh, st.wantRestart)
		}
	}
}

// TestADrainOutlivesARestart: a drained worker stays drained when it
// starts again (a new incarnation), when it comes back after being
// declared dead, and when it is drained before it is first heard from;
// undrained, it takes sandboxes again.
func TestADrainOutlivesARestart(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	hb := func(id, inc string) protocol.Heartbeat {
		return protocol.Heartbeat{WorkerID: id, Incarnation: inc, CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: 200 * time.Millisecond, Sent: t0}
	}
	state := func(w *Workers, id string) string {
		for _, v := range w.Views(t0) {
			if v.ID == id {
				return v.State
			}
		}
		return "unknown"
	}
	w := NewWorkers(nil)
	w.Observe(hb("a", "inc-1"), t0)
	if !w.Drain("a", true) {
		t.Fatal("a known worker's Drain reported it unknown")
	}
	if w.Drain("b", true) {
		t.Fatal("an unknown worker's Drain reported it known")
	}
	steps := []struct {
		name  string
		do    func()
		id    string
		state string
	}{
		{"drained", func() {}, "a", "draining"},
		{"a new incarnation", func() { w.Observe(hb("a", "inc-2"), t0) }, "a", "draining"},
		{"back after being declared dead", func() { w.Sweep(t0.Add(time.Hour)); w.Observe(hb("a", "inc-2"), t0) }, "a", "draining"},
		{"drained before first heard from", func() { w.Observe(hb("b", "inc-1"), t0) }, "b", "draining"},
		{"undrained", func() { w.Drain("a", false); w.Observe(hb("a", "inc-3"), t0) }, "a", "ready"},
	}
	for _, st := range steps {
		st.do()
		if got := state(w, st.id); got != st.state {
			t.Errorf("%s: worker %s is %s, want %s", st.name, st.id, got, st.state)
		}
	}
}

// TestObserveBeat: a short heartbeat keeps alive a worker whose full
// heartbeat the table has, of the same incarnation, and nothing else: a
// worker unknown, declared dead or restarted waits for its next full
// heartbeat. A worker heard from only by Beats stays alive and
// placeable; one that falls silent is declared dead as before.
func TestObserveBeat(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	const iv = 200 * time.Millisecond
	full := protocol.Heartbeat{WorkerID: "a", Incarnation: "inc-1", CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: iv, Sent: t0}
	tests := []struct {
		name  string
		setup func(w *Workers)
		beat  protocol.Beat
		want  bool
	}{
		{"unknown worker", func(*Workers) {}, protocol.Beat{WorkerID: "a", Incarnation: "inc-1"}, false},
		{"known worker", func(w *Workers) { w.Observe(full, t0) }, protocol.Beat{WorkerID: "a", Incarnation: "inc-1"}, true},
		{"another incarnation", func(w *Workers) { w.Observe(full, t0) }, protocol.Beat{WorkerID: "a", Incarnation: "inc-2"}, false},
		{"declared dead", func(w *Workers) { w.Observe(full, t0); w.Sweep(t0.Add(time.Hour)) }, protocol.Beat{WorkerID: "a", Incarnation: "inc-1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(nil)
			tt.setup(w)
			tt.beat.Sent = t0.Add(time.Second)
			if got := w.ObserveBeat(tt.beat, t0.Add(time.Second)); got != tt.want {
				t.Fatalf("ObserveBeat = %v, want %v", got, tt.want)
			}
		})
	}

	// Beats alone keep a worker alive and placeable for as long as they
	// come; when they stop it is declared dead within the usual bound.
	w := NewWorkers(nil)
	w.Observe(full, t0)
	now := t0
	for range 50 {
		now = now.Add(iv)
		if !w.ObserveBeat(protocol.Beat{WorkerID: "a", Incarnation: "inc-1", Sent: now}, now) {
			t.Fatal("ObserveBeat refused a known worker's beat")
		}
		if dead := w.Sweep(now); len(dead) != 0 {
			t.Fatalf("%v: %v declared dead while its beats came", now.Sub(t0), dead)
		}
	}
	if id, err := w.Reserve(decide.PlacementRequest{CPUMilli: 100, MemoryBytes: 1 << 20}, now); err != nil || id != "a" {
		t.Fatalf("Reserve after beats alone = %q, %v; want a", id, err)
	}
	if dead := w.Sweep(now.Add(missedHeartbeats*iv + iv/2)); !slices.Equal(dead, []string{"a"}) {
		t.Fatalf("silent for %v: declared dead %v, want [a]", missedHeartbeats*iv+iv/2, dead)
	}
}

// BenchmarkSweep times one sweep (every 100 ms) of 10,000 live workers,
// and one heartbeat, full and short, handled by the table.
func BenchmarkSweep(b *testing.B) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	w := NewWorkers(nil)
	for i := range 10000 {
		w.Observe(protocol.Heartbeat{WorkerID: fmt.Sprintf("w%05d", i), CPUMilli: 16000, MemoryBytes: 64 << 30, Interval: 200 * time.Millisecond, Sent: t0}, t0)
	}
	b.Run("sweep", func(b *testing.B) {
		for range b.N {
			if dead := w.Sweep(t0); len(dead) > 0 {
				b.Fatal(dead)
			}
		}
	})
	b.Run("observe", func(b *testing.B) {
		hb := protocol.Heartbeat{WorkerID: "w04242", CPUMilli: 16000, MemoryBytes: 64 << 30, Interval: 200 * time.Millisecond, Sent: t0}
		for range b.N {
			w.Observe(hb, t0)
		}
	})
	b.Run("observe-beat", func(b *testing.B) {
		beat := protocol.Beat{WorkerID: "w04242", Sent: t0}
		for range b.N {
			w.ObserveBeat(beat, t0)
		}
	})
}

// TestAWorkerWithSandboxesWaitsForTheirAdoption: a worker that comes (back)
// running sandboxes shows no room until they are adopted (Adopted, by an
// adoption begun since), or until adoptionWait has passed, so that no
// creation duplicates one of them; its capacity still counts in the
// autoscaler's snapshot. A worker that comes with none is placeable at
// once.
func TestAWorkerWithSandboxesWaitsForTheirAdoption(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	const iv = 200 * time.Millisecond
	hb := func(inc string, sandboxes int, sent time.Time) protocol.Heartbeat {
		return protocol.Heartbeat{WorkerID: "a", Incarnation: inc, CPUMilli: 1000, MemoryBytes: 1 << 30,
			Sandboxes: sandboxes, Interval: iv, Sent: sent}
	}
	req := decide.PlacementRequest{CPUMilli: 100, MemoryBytes: 1 << 20}
	tests := []struct {
		name string
		// run brings worker a into w and returns when Reserve is tried.
		run       func(w *Workers) time.Time
		wantPlace bool
	}{
		{"new, no sandboxes", func(w *Workers) time.Time {
			w.Observe(hb("inc-1", 0, t0), t0)
			return t0
		}, true},
		{"new, with sandboxes", func(w *Workers) time.Time {
			w.Observe(hb("inc-1", 2, t0), t0)
			return t0
		}, false},
		{"new, with sandboxes, adopted", func(w *Workers) time.Time {
			w.Observe(hb("inc-1", 2, t0), t0)
			w.Adopted("a", t0)
			return t0
		}, true},
		{"an adoption begun before a restart ends nothing", func(w *Workers) time.Time {
			w.Observe(hb("inc-1", 2, t0), t0)
			t1 := t0.Add(iv)
			w.Observe(hb("inc-2", 3, t1), t1)
			w.Adopted("a", t0)
			return t1
		}, false},
		{"back from dead, with sandboxes", func(w *Workers) time.Time {
			w.Observe(hb("inc-1", 2, t0), t0)
			w.Adopted("a", t0)
			w.Sweep(t0.Add(time.Hour))
			t1 := t0.Add(time.Hour)
			w.Observe(hb("inc-1", 2, t1), t1)
			return t1
		}, false},
		{"a later heartbeat does not end the wait", func(w *Workers) time.Time {
			w.Observe(hb("inc-1", 2, t0), t0)
			t1 := t0.Add(iv)
			w.Observe(hb("inc-1", 2, t1), t1)
			return t1
		}, false},
		{"the wait ends at adoptionWait", func(w *Workers) time.Time {
			w.Observe(hb("inc-1", 2, t0), t0)
			for at := t0; !at.After(t0.Add(adoptionWait)); at = at.Add(iv) {
				w.Observe(hb("inc-1", 2, at), at)
			}
			return t0.Add(adoptionWait)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(nil)
			at := tt.run(w)
			snap := w.Snapshot(at)
			if len(snap) != 1 || snap[0].CPUMilli != 1000 {
				t.Fatalf("the autoscaler's snapshot is %+v, want worker a with its capacity", snap)
			}
			id, err := w.Reserve(req, at)
			if tt.wantPlace != (err == nil) {
				t.Fatalf("Reserve = %q, %v; want placed %v", id, err, tt.wantPlace)
			}
			if !tt.wantPlace {
				if !errors.Is(err, decide.ErrNoCapacity) {
					t.Errorf("Reserve's error is %v, want ErrNoCapacity", err)
				}
				if s := snap[0]; s.ReservedCPUMilli < s.CPUMilli {
					t.Errorf("a worker waiting for adoption shows room in the snapshot: %+v", s)
				}
				w.Adopted("a", at)
				if _, err := w.Reserve(req, at); err != nil {
					t.Errorf("after the adoption: Reserve: %v", err)
				}
			}
		})
	}
}

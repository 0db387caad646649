package orchestrator

import (
	"reflect"
	"testing"
	"time"

	"baton.dev/baton/worker/protocol"
)

// TestSweep checks when Sweep declares a worker dead: after missing four
// beats, later by as much as the orchestrator is behind on handling
// heartbeats (measured from the other workers' Sent times), at most
// maxBehind later.
func TestSweep(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const iv = 200 * time.Millisecond
	beat := func(w *Workers, id string, sent, handled time.Time) {
		w.Observe(protocol.Heartbeat{WorkerID: id, CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: iv, Sent: sent}, handled)
	}
	tests := []struct {
		name string
		// lag is how late the last heartbeat of the live worker "b" was
		// handled, past the usual 1 ms transit.
		lag  time.Duration
		at   time.Duration // when the sweep runs, after a's last beat
		want []string
	}{
		{"within four beats: alive", 0, 790 * time.Millisecond, nil},
		{"past four beats: dead", 0, 810 * time.Millisecond, []string{"a"}},
		{"the orchestrator 300 ms behind: alive 300 ms longer", 300 * time.Millisecond, 1050 * time.Millisecond, nil},
		{"the orchestrator 300 ms behind: dead after that", 300 * time.Millisecond, 1110 * time.Millisecond, []string{"a"}},
		{"grace is capped", 5 * time.Second, 1810 * time.Millisecond, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(nil)
			// Both workers beat with 1 ms transit; then a stops and b's
			// next beat is handled tt.lag late.
			for i := range 3 {
				sent := t0.Add(time.Duration(i) * iv)
				beat(w, "a", sent, sent.Add(time.Millisecond))
				beat(w, "b", sent, sent.Add(time.Millisecond))
			}
			last := t0.Add(2*iv + time.Millisecond)
			sent := t0.Add(3 * iv)
			beat(w, "b", sent, sent.Add(time.Millisecond+tt.lag))
			beat(w, "b", sent.Add(iv), sent.Add(iv+time.Millisecond+tt.lag)) // keeps b itself alive
			got := w.Sweep(last.Add(tt.at))
			if !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("Sweep %v after a's last beat = %v, want %v", tt.at, got, tt.want)
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
		if i == 3 && w.behind != maxBehind {
			t.Fatalf("right after the step: grace %v, want the cap %v", w.behind, maxBehind)
		}
	}
	if w.behind > 100*time.Millisecond {
		t.Fatalf("19 s after the step: grace %v, want the step absorbed (< 100ms)", w.behind)
	}
	last := at(99).Add(time.Millisecond)
	// skewed keeps beating; a is silent since its beat 99.
	beat("skewed", at(103).Add(-3*time.Second), at(103).Add(time.Millisecond))
	if got := w.Sweep(last.Add(900 * time.Millisecond)); !reflect.DeepEqual(got, []string{"a"}) {
		t.Fatalf("Sweep 900ms after a's last beat = %v, want [a]", got)
	}
}

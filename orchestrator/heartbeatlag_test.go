package orchestrator

import (
	"testing"
	"time"

	"baton.dev/baton/worker/protocol"
)

// TestHeartbeatLagRemembers: the grace is the largest lateness of the
// heartbeats handled in the last lagWindows windows, whatever came on
// time after it, and none once they all passed.
func TestHeartbeatLagRemembers(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Duration // when grace is asked, after the late heartbeat
		want time.Duration
	}{
		{"at once", 0, 700 * time.Millisecond},
		{"on time ones since", 500 * time.Millisecond, 700 * time.Millisecond},
		{"within the windows", (lagWindows-1)*lagWindow - time.Millisecond, 700 * time.Millisecond},
		{"past the windows", lagWindows * lagWindow, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l heartbeatLag
			l.observe(100*time.Millisecond, t0.Add(-time.Second))
			l.observe(700*time.Millisecond, t0)
			for d := time.Duration(0); d <= tt.at; d += 10 * time.Millisecond {
				l.observe(0, t0.Add(d))
			}
			if got := l.grace(t0.Add(tt.at)); got != tt.want {
				t.Fatalf("grace %v after a heartbeat 700 ms late = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

// TestLatenessOfAWorkerBack: a worker declared dead whose heartbeats
// come back late is judged against the transit it had before: its
// lateness counts in the grace of the others, whose heartbeats are as
// late on the same path.
func TestLatenessOfAWorkerBack(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	w := NewWorkers(nil)
	hb := protocol.Heartbeat{WorkerID: "a", CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: 200 * time.Millisecond, Sent: t0}
	w.Observe(hb, t0.Add(time.Millisecond))
	if dead := w.Sweep(t0.Add(2 * time.Second)); len(dead) != 1 {
		t.Fatalf("silent 2 s: dead %v, want [a]", dead)
	}
	hb.Sent = t0.Add(1800 * time.Millisecond)
	back := t0.Add(3 * time.Second) // 1.2 s in transit, 1 ms before
	if fresh, _ := w.Observe(hb, back); !fresh {
		t.Fatal("a worker declared dead came back, not fresh")
	}
	if g := w.grace(back); g < time.Second {
		t.Fatalf("grace %v after a worker came back 1.2 s late, want its lateness (about 1.2 s)", g)
	}
}

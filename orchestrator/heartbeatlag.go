package orchestrator

import "time"

// lagWindow is the span of one window of heartbeatLag.
const lagWindow = 500 * time.Millisecond

// heartbeatLag is how late the workers' heartbeats are arriving now, as
// a whole: the largest lateness (transit past each worker's own usual)
// among the heartbeats handled in the last lagWindows windows of
// lagWindow. It is the grace the sweep gives a silent worker: while
// heartbeats sent on time reach the orchestrator up to a second late (a
// burst of work in this process, on the NATS server, or on the path
// between), a worker silent for a second longer than its beats allow is
// no more dead than they are late.
//
// It is the largest over every worker's heartbeats, not the last one's:
// on a loaded path heartbeats come some on time and some late, and the
// last one handled, on time, said "not behind" while others were 800 ms
// late, and the sweep declared their workers dead (bench controlplane,
// 10,000 workers: 121,401 false deaths in one run).
type heartbeatLag struct {
	// slots keeps the largest lateness of the last lagWindows windows,
	// by window number (Unix time / lagWindow) modulo lagWindows; of is
	// each one's window number.
	slots [lagWindows]time.Duration
	of    [lagWindows]int64
}

// lagWindows is how many windows of lagWindow the lag remembers: two
// seconds. One second was too short: at 10,000 workers the evidence of
// a stall came, then a window passed with heartbeats only from workers
// just back (fresh, so on time by their new baseline), and the next
// sweep took the stall's other workers for dead.
const lagWindows = 4

// observe counts a heartbeat late by lateness, handled at now.
func (l *heartbeatLag) observe(lateness time.Duration, now time.Time) {
	s := lagSlot(now)
	i := s % lagWindows
	if l.of[i] != s {
		l.of[i], l.slots[i] = s, 0
	}
	l.slots[i] = max(l.slots[i], lateness)
}

// grace is the lateness the sweep allows for at now, at most maxBehind:
// none once lagWindows windows passed with no heartbeat.
func (l *heartbeatLag) grace(now time.Time) time.Duration {
	s := lagSlot(now)
	var g time.Duration
	for i := range lagWindows {
		if of := l.of[i]; of <= s && of > s-lagWindows {
			g = max(g, l.slots[i])
		}
	}
	return min(g, maxBehind)
}

func lagSlot(t time.Time) int64 { return t.UnixNano() / int64(lagWindow) }

package orchestrator

import (
	"baton.dev/baton/worker/protocol"
)

// stranded is what a dead worker incarnation left running.
type stranded struct {
	workerID, machine string
	sandboxes         int
}

// reclaimLocked stops counting as stranded the sandboxes of the
// incarnations hb's worker removed or adopted at its start, and those of
// hb's own incarnation (a worker declared dead that was not).
func (w *Workers) reclaimLocked(hb protocol.Heartbeat) {
	for _, inc := range hb.Reclaimed {
		if !w.reclaimed[inc] {
			w.reclaimed[inc] = true
			delete(w.stranded, inc)
		}
	}
	delete(w.stranded, hb.Incarnation)
}

// Strand records that a worker declared dead left sandboxes running: at
// least routed (those the router dropped), or as many as its last
// heartbeat counted. They stay stranded until a worker starting on the
// same machine reclaims them.
func (w *Workers) Strand(workerID string, routed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[workerID]
	if !ok {
		return
	}
	n := max(routed, e.hb.Sandboxes)
	inc := e.hb.Incarnation
	if n == 0 || w.reclaimed[inc] || e.hb.Runtime == "fake" {
		return
	}
	if inc == "" {
		inc = "worker:" + workerID // a worker too old to name its incarnation
	}
	w.stranded[inc] = stranded{workerID: workerID, machine: e.hb.Machine, sandboxes: n}
}

// Stranded returns how many sandboxes dead workers left running that no
// worker has reclaimed yet.
func (w *Workers) Stranded() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.stranded {
		n += s.sandboxes
	}
	return n
}

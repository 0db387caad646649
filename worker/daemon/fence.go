package daemon

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/protocol"
)

// fence admits a request of the given leadership term: it refuses a term
// older than the newest this worker has seen (a deposed orchestrator
// replica) and remembers a newer one. Term zero comes from an
// orchestrator that is not replicated and is admitted until a replica's
// term has been seen.
func (d *Daemon) fence(term uint64) error {
	for {
		seen := d.term.Load()
		switch {
		case term < seen:
			return fmt.Errorf("worker %s: term %d, newest seen %d: %w", d.cfg.ID, term, seen, worker.ErrStaleTerm)
		case term == seen || d.term.CompareAndSwap(seen, term):
			return nil
		}
	}
}

// onLeader learns the term a leading replica announced.
func (d *Daemon) onLeader(m *nats.Msg) {
	var a protocol.LeaderAnnouncement
	if err := json.Unmarshal(m.Data, &a); err != nil {
		d.log.Warn("ignoring a leader announcement", "err", err)
		return
	}
	if d.term.Load() < a.Term && d.fence(a.Term) == nil {
		d.log.Info("orchestrator leader announced", "replica", a.Replica, "term", a.Term)
	}
}

package orchestrator

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"baton.dev/baton/worker/protocol"
)

// heardWhileStandingBy keeps, for a warm standby, each worker's last full
// heartbeat and last short one as they came, with when. They are decoded
// into the worker table once, when the standby leads (replay): a standby
// then costs a map store per heartbeat, not a decode, and its process
// little beside the leader's (measured in `baton bench controlplane
// --replicas`).
type heardWhileStandingBy struct {
	// done is set, under mu, once replay ran: heartbeats go to the table
	// then, and a leader's pass by without taking the lock.
	done atomic.Bool
	mu   sync.Mutex
	m    map[string]*heard // by subject
}

type heard struct {
	full, beat     []byte
	fullAt, beatAt time.Time
}

// keep holds a heartbeat's message while the orchestrator stands by; it
// reports false once replay ran, when the caller handles it itself.
func (s *heardWhileStandingBy) keep(subject string, data []byte, now time.Time) bool {
	if s.done.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done.Load() { // replay ran while this one waited for the lock
		return false
	}
	if s.m == nil {
		s.m = map[string]*heard{}
	}
	h := s.m[subject]
	if h == nil {
		h = &heard{}
		s.m[subject] = h
	}
	if protocol.IsBeat(data) {
		h.beat, h.beatAt = data, now
	} else {
		h.full, h.fullAt = data, now
		h.beat = nil
	}
	return true
}

// replay takes what was kept into w, each heartbeat at the time it came,
// and hands later heartbeats to the caller (keep reports false).
func (s *heardWhileStandingBy) replay(w *Workers, log *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for subject, h := range s.m {
		if h.full == nil {
			continue // only short ones: the next full one introduces it
		}
		hb, err := protocol.DecodeHeartbeat(subject, h.full)
		if err != nil {
			log.Warn("ignoring a heartbeat", "err", err)
			continue
		}
		w.Observe(hb, h.fullAt)
		if h.beat != nil {
			if b, err := protocol.DecodeBeat(subject, h.beat); err == nil {
				w.ObserveBeat(b, h.beatAt)
			}
		}
	}
	s.m = nil
	s.done.Store(true)
}

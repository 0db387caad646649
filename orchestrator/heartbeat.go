package orchestrator

import (
	"time"

	"baton.dev/baton/worker/protocol"
)

// Heard is what Workers.Heard made of one heartbeat message.
type Heard struct {
	// Full: a full heartbeat (Heartbeat), not a short protocol.Beat.
	Full      bool
	Heartbeat protocol.Heartbeat
	// Fresh and Restarted are Observe's, for a full heartbeat.
	Fresh, Restarted bool
}

// Heard decodes a message received on a heartbeat subject, full or
// short, and records it (Observe, ObserveBeat) as handled at received:
// the time the caller took as the message came in, before decoding it or
// waiting for the table's lock, so that the time the handler spends does
// not count as the worker's silence.
func (w *Workers) Heard(subject string, data []byte, received time.Time) (Heard, error) {
	if protocol.IsBeat(data) {
		// A short heartbeat: alive, nothing changed. One from a worker
		// whose full heartbeat has not come yet waits for it.
		b, err := protocol.DecodeBeat(subject, data)
		if err != nil {
			return Heard{}, err
		}
		w.ObserveBeat(b, received)
		return Heard{}, nil
	}
	hb, err := protocol.DecodeHeartbeat(subject, data)
	if err != nil {
		return Heard{}, err
	}
	h := Heard{Full: true, Heartbeat: hb}
	h.Fresh, h.Restarted = w.Observe(hb, received)
	return h, nil
}

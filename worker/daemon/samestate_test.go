package daemon

import (
	"testing"
	"time"

	"baton.dev/baton/worker/protocol"
)

// TestSameState: a heartbeat differing from the last full one in
// anything but its send time is sent full.
func TestSameState(t *testing.T) {
	base := protocol.Heartbeat{WorkerID: "w1", Runtime: "fake", CPUMilli: 1000, MemoryBytes: 1 << 30, Images: []string{"a"},
		Sent: time.Unix(1, 0), Interval: time.Second, Incarnation: "i", Machine: "m", Reclaimed: []string{"old"}}
	tests := []struct {
		name   string
		change func(*protocol.Heartbeat)
		same   bool
	}{
		{"only sent later", func(h *protocol.Heartbeat) { h.Sent = h.Sent.Add(time.Second) }, true},
		{"images copied, same", func(h *protocol.Heartbeat) { h.Images = []string{"a"} }, true},
		{"a sandbox more", func(h *protocol.Heartbeat) { h.Sandboxes++ }, false},
		{"cpu allocated", func(h *protocol.Heartbeat) { h.AllocatedCPUMilli += 100 }, false},
		{"memory allocated", func(h *protocol.Heartbeat) { h.AllocatedMemoryBytes += 100 }, false},
		{"capacity", func(h *protocol.Heartbeat) { h.MemoryBytes *= 2 }, false},
		{"cpu capacity", func(h *protocol.Heartbeat) { h.CPUMilli *= 2 }, false},
		{"allocation ratio", func(h *protocol.Heartbeat) { h.CPUAllocationRatio = 2 }, false},
		{"an image more", func(h *protocol.Heartbeat) { h.Images = []string{"a", "b"} }, false},
		{"interval", func(h *protocol.Heartbeat) { h.Interval *= 2 }, false},
		{"incarnation", func(h *protocol.Heartbeat) { h.Incarnation = "j" }, false},
		{"machine", func(h *protocol.Heartbeat) { h.Machine = "n" }, false},
		{"runtime", func(h *protocol.Heartbeat) { h.Runtime = "containerd" }, false},
		{"reclaimed", func(h *protocol.Heartbeat) { h.Reclaimed = nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hb := base
			tt.change(&hb)
			if got := sameState(base, hb); got != tt.same {
				t.Fatalf("sameState = %v, want %v", got, tt.same)
			}
		})
	}
}

package protocol

import (
	"testing"
	"time"
)

// TestUnmarshalHeartbeatAsJSON: the hand-written reading of a heartbeat
// gives what json.Unmarshal gives, or the same error.
func TestUnmarshalHeartbeatAsJSON(t *testing.T) {
	full := Heartbeat{WorkerID: "sim-01234", Runtime: "fake", CPUMilli: 16000, MemoryBytes: 64 << 30, CPUAllocationRatio: 1.5,
		AllocatedCPUMilli: 250, AllocatedMemoryBytes: 128 << 20, Sandboxes: 3, Images: []string{"baton.local/a:v1", "baton.local/b:v1"},
		Sent: time.Date(2026, 12, 5, 7, 0, 0, 42, time.UTC), Interval: 200 * time.Millisecond, Incarnation: "0123456789abcdef", Machine: "host-1",
		Reclaimed: []string{"inc-0"}}
	tests := []struct{ name, data string }{
		{"every field, as a worker sends it", mustMarshal(t, full)},
		{"zero, images null", mustMarshal(t, Heartbeat{})},
		{"no images", `{"workerId":"w","images":[]}`},
		{"white space", "{ \"workerId\" : \"w\" , \"images\" : [ \"a\" , \"b\" ] , \"cpuAllocationRatio\" : 2 }"},
		{"ratio with exponent", `{"cpuAllocationRatio":1.25e1}`},
		{"ratio negative, fraction", `{"cpuAllocationRatio":-0.5}`},
		{"leading zero", `{"cpuMilli":0100}`},
		{"fraction for an integer", `{"sandboxes":1.0}`},
		{"bare minus", `{"cpuMilli":-}`},
		{"dot without digits", `{"cpuAllocationRatio":1.}`},
		{"huge ratio", `{"cpuAllocationRatio":1e999}`},
		{"escaped image", `{"images":["a\u0041"]}`},
		{"a number in images", `{"images":["a",1]}`},
		{"unknown key", `{"workerId":"w","future":{"x":[1]}}`},
		{"key in other case", `{"WorkerID":"w"}`},
		{"bad time", `{"sent":"now"}`},
		{"null time", `{"sent":null}`},
		{"truncated array", `{"images":["a"`},
		{"trailing comma", `{"workerId":"w",}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkAsJSON(t, tt.data, unmarshalHeartbeat) })
	}
}

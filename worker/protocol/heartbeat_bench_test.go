package protocol

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkDecodeHeartbeat times the orchestrator's decoding of one
// heartbeat as a simulated worker sends it.
func BenchmarkDecodeHeartbeat(b *testing.B) {
	hb := Heartbeat{WorkerID: "sim-01234", Runtime: "fake", CPUMilli: 16000, MemoryBytes: 64 << 30, Images: []string{"baton.local/testfn-ok:v1", "baton.local/testfn-fail:v1", "baton.local/testfn-slow:v1"},
		Sent: time.Now(), Interval: 200 * time.Millisecond, Incarnation: "0123456789abcdef", Machine: "host-1"}
	data, err := json.Marshal(hb)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data)), "bytes")
	subject := HeartbeatSubject(hb.WorkerID)
	b.ResetTimer()
	for range b.N {
		if _, err := DecodeHeartbeat(subject, data); err != nil {
			b.Fatal(err)
		}
	}
}

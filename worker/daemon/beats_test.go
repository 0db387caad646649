package daemon_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/worker/daemon"
	"baton.dev/baton/worker/fake"
	"baton.dev/baton/worker/protocol"
)

// TestShortBeatsBetweenFullHeartbeats: with FullHeartbeatEvery n above
// 1, a worker whose state does not change sends a full heartbeat, then
// n-1 short Beats, then a full one again; with 0 or 1 every heartbeat is
// full, as before Beats.
func TestShortBeatsBetweenFullHeartbeats(t *testing.T) {
	tests := []struct {
		name      string
		fullEvery int
		want      string // f: full heartbeat, b: Beat
	}{
		{"every heartbeat full (default)", 0, "ffffffff"},
		{"every heartbeat full", 1, "ffffffff"},
		{"one full in three", 3, "fbbfbbfb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := testenv.NATS(t)
			rt, err := fake.Open(fake.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			msgs := make(chan *nats.Msg, 64)
			sub, err := nc.ChanSubscribe(protocol.HeartbeatSubject("w1"), msgs)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe() //nolint:errcheck // test end
			d := daemon.New(daemon.Config{ID: "w1", Conn: nc, Runtime: rt, CPUMilli: 1000, MemoryBytes: 1 << 30,
				HeartbeatInterval: 10 * time.Millisecond, FullHeartbeatEvery: tt.fullEvery, Incarnation: "inc1"})
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			defer func() { stop(); <-done }()
			got := make([]byte, 0, len(tt.want))
			for len(got) < len(tt.want) {
				select {
				case m := <-msgs:
					if !protocol.IsBeat(m.Data) {
						if _, err := protocol.DecodeHeartbeat(m.Subject, m.Data); err != nil {
							t.Fatal(err)
						}
						got = append(got, 'f')
						continue
					}
					b, err := protocol.DecodeBeat(m.Subject, m.Data)
					if err != nil || b.WorkerID != "w1" || b.Incarnation != "inc1" {
						t.Fatalf("beat %+v, %v: want w1's, incarnation inc1", b, err)
					}
					got = append(got, 'b')
				case <-time.After(10 * time.Second):
					t.Fatalf("heartbeats %q so far, want %q", got, tt.want)
				}
			}
			if string(got) != tt.want {
				t.Fatalf("heartbeats %q, want %q", got, tt.want)
			}
		})
	}
}

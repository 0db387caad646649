package daemon_test

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/daemon"
	"baton.dev/baton/worker/fake"
	"baton.dev/baton/worker/protocol"
)

// TestVerifyOverNATS asks a daemon, as the orchestrator does, whether
// connections end in its sandbox, and checks the answer's code for each
// case; heartbeats carry the incarnation and what it reclaimed.
func TestVerifyOverNATS(t *testing.T) {
	ctx := context.Background()
	nc, rt, m := runDaemon(t, daemon.Config{ID: "wv", Incarnation: "inc-2", Machine: "m1", Reclaimed: []string{"inc-1"}})
	var hb protocol.Heartbeat
	if err := json.Unmarshal(m.Data, &hb); err != nil || hb.Incarnation != "inc-2" || hb.Machine != "m1" || len(hb.Reclaimed) != 1 || hb.Reclaimed[0] != "inc-1" {
		t.Fatalf("heartbeat %s (%v): want incarnation inc-2 on m1, reclaimed inc-1", m.Data, err)
	}

	sb, err := rt.Create(ctx, worker.SandboxSpec{ID: "sb-v", Function: "t/w/f", Image: "baton.local/testfn-ok:v1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(sb.Endpoint[:strings.LastIndex(sb.Endpoint, "/sb/")], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := worker.ConnOf(c)
	if err != nil {
		t.Fatal(err)
	}
	bogus := conn
	bogus.Client = netip.AddrPortFrom(conn.Client.Addr(), conn.Client.Port()+1)
	tests := []struct {
		name string
		body []byte
		code string // "" for none
	}{
		{"its own connection", mustJSON(t, protocol.VerifyRequest{ID: "sb-v", Conn: conn}), ""},
		{"a connection nobody made", mustJSON(t, protocol.VerifyRequest{ID: "sb-v", Conn: bogus}), protocol.CodeIdentity},
		{"an unknown sandbox", mustJSON(t, protocol.VerifyRequest{ID: "sb-none", Conn: conn}), protocol.CodeNotFound},
		{"not JSON", []byte("{"), protocol.CodeBadRequest},
		{"an address that is not one", []byte(`{"id":"sb-v","conn":{"client":"nope","server":"1.2.3.4:80"}}`), protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msg *nats.Msg
			for {
				msg, err = nc.Request(protocol.VerifySubject("wv"), tt.body, 5*time.Second)
				if err != nats.ErrNoResponders {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			var reply protocol.VerifyReply
			if err := json.Unmarshal(msg.Data, &reply); err != nil {
				t.Fatal(err)
			}
			got := ""
			if reply.Error != nil {
				got = reply.Error.Code
			}
			if got != tt.code {
				t.Errorf("reply %s: code %q, want %q", msg.Data, got, tt.code)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runDaemon runs a daemon as cfg says (its ID; CPU, memory, connection
// and a fake runtime filled in) on a NATS server of its own until the
// test ends, and returns once it sent its first heartbeat, with that
// heartbeat.
func runDaemon(t *testing.T, cfg daemon.Config) (*nats.Conn, *fake.Runtime, *nats.Msg) {
	t.Helper()
	nc := testenv.NATS(t)
	rt, err := fake.Open(fake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	beats, err := nc.SubscribeSync(protocol.HeartbeatSubject(cfg.ID))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Conn, cfg.Runtime, cfg.CPUMilli, cfg.MemoryBytes = nc, rt, 1000, 1<<30
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.New(cfg).Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	m, err := beats.NextMsg(10 * time.Second) // subscribed once it beats
	if err != nil {
		t.Fatalf("first heartbeat: %v", err)
	}
	return nc, rt, m
}

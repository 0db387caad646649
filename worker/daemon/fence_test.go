package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/daemon"
	"baton.dev/baton/worker/protocol"
)

// TestDeposedLeaderIsFenced sends a daemon creations and deletions as
// orchestrator replicas would: a term it has not seen is taken, an older
// one is refused (worker.ErrStaleTerm) and changes nothing, whether the
// newer term came in a request or in a leader's announcement; term zero
// (an orchestrator that is not replicated) is refused once a term has
// been seen.
func TestDeposedLeaderIsFenced(t *testing.T) {
	nc, rt, _ := runDaemon(t, daemon.Config{ID: "wf", HeartbeatInterval: time.Hour})
	ctx := context.Background()

	create := func(id string, term uint64) error {
		t.Helper()
		spec := worker.SandboxSpec{ID: id, Function: "t/w/f", Image: "baton.local/testfn-ok:v1", CPUMilli: 100, MemoryBytes: 64 << 20}
		var reply protocol.CreateReply
		request(t, nc, protocol.CreateSubject("wf"), protocol.CreateRequest{Spec: spec, Term: term}, &reply)
		if reply.Error != nil {
			return reply.Error
		}
		return nil
	}
	del := func(id string, term uint64) error {
		t.Helper()
		var reply protocol.DeleteReply
		request(t, nc, protocol.DeleteSubject("wf"), protocol.DeleteRequest{ID: id, Term: term}, &reply)
		if reply.Error != nil {
			return reply.Error
		}
		return nil
	}
	count := func() int {
		t.Helper()
		sbs, err := rt.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(sbs)
	}
	if err := create("sb-a", 0); err != nil {
		t.Fatalf("unreplicated create: %v", err)
	}
	if err := create("sb-b", 3); err != nil {
		t.Fatalf("term 3 create: %v", err)
	}
	if err := create("sb-c", 2); !errors.Is(err, worker.ErrStaleTerm) {
		t.Fatalf("term 2 create after term 3: %v, want ErrStaleTerm", err)
	}
	if err := del("sb-a", 0); !errors.Is(err, worker.ErrStaleTerm) {
		t.Fatalf("term 0 delete after term 3: %v, want ErrStaleTerm", err)
	}
	// A new leader announces term 4 before it sends anything.
	b, _ := json.Marshal(protocol.LeaderAnnouncement{Replica: "r2", Term: 4})
	if err := nc.Publish(protocol.LeaderSubject, b); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	deadline := time.Now().Add(5 * time.Second)
	for create("sb-d", 3) == nil {
		if time.Now().After(deadline) {
			t.Fatal("term 3 still accepted 5s after term 4 was announced")
		}
		_ = del("sb-d", 3)
		time.Sleep(10 * time.Millisecond)
	}
	if err := del("sb-b", 3); !errors.Is(err, worker.ErrStaleTerm) {
		t.Fatalf("term 3 delete after term 4 was announced: %v, want ErrStaleTerm", err)
	}
	if n := count(); n != 2 {
		t.Errorf("worker runs %d sandboxes, want 2 (sb-a and sb-b): a stale request took effect", n)
	}
	if err := del("sb-b", 4); err != nil {
		t.Fatalf("term 4 delete: %v", err)
	}
	if n := count(); n != 1 {
		t.Errorf("worker runs %d sandboxes after the leader's delete, want 1", n)
	}
}

// request sends req to subject as JSON and decodes the answer into reply.
func request(t *testing.T, nc *nats.Conn, subject string, req, reply any) {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nc.Request(subject, b, 10*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	if err := json.Unmarshal(m.Data, reply); err != nil {
		t.Fatalf("decode the answer to %s: %v", subject, err)
	}
}

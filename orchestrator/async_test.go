package orchestrator

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/api"
)

// TestAcceptedNeverOverwritesAResult: an asynchronous invocation is in the
// stream before its handler records it as accepted, so a fast consumer can
// run it and store its result first. The handler's "accepted" must then
// leave the result alone, in JetStream and in memory (it used to overwrite
// both: the invocation stayed "accepted" for good). Real embedded NATS.
func TestAcceptedNeverOverwritesAResult(t *testing.T) {
	ctx := context.Background()
	nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	q, err := openAsyncQueue(ctx, js, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	mem := NewInvocations(0)
	start := time.Now()
	done := &api.Invocation{ID: "inv-1", Tenant: "t", Workflow: "w", Async: true, Status: api.StatusSucceeded, Start: start, End: start.Add(time.Millisecond), Output: []byte(`{"ok":true}`)}
	// The consumer finished first.
	mem.Put(done)
	if err := q.putResult(ctx, done); err != nil {
		t.Fatal(err)
	}
	// Then the handler records the acceptance.
	accepted := &api.Invocation{ID: "inv-1", Tenant: "t", Workflow: "w", Async: true, Status: api.StatusAccepted, Start: start}
	if mem.PutIfAbsent(accepted) {
		t.Error("memory: the accepted record replaced the finished one")
	}
	if err := q.putAccepted(ctx, accepted); err != nil {
		t.Fatal(err)
	}
	got, ok, err := q.result(ctx, "t", "inv-1")
	if err != nil || !ok {
		t.Fatalf("result: %v, %v", ok, err)
	}
	if got.Status != api.StatusSucceeded || string(got.Output) != `{"ok":true}` {
		t.Errorf("stored %s with output %s after the late acceptance, want succeeded with the output", got.Status, got.Output)
	}
	if inv, _ := mem.Get("t", "inv-1"); inv.Status != api.StatusSucceeded {
		t.Errorf("memory holds %s, want succeeded", inv.Status)
	}

	// In the usual order the acceptance is stored, then replaced by the result.
	second := &api.Invocation{ID: "inv-2", Tenant: "t", Workflow: "w", Async: true, Status: api.StatusAccepted, Start: start}
	if !mem.PutIfAbsent(second) {
		t.Error("memory: a first record was not kept")
	}
	if err := q.putAccepted(ctx, second); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := q.result(ctx, "t", "inv-2"); !ok || got.Status != api.StatusAccepted {
		t.Fatalf("inv-2 after acceptance: %+v, %v", got, ok)
	}
	fin := *second
	fin.Status = api.StatusFailed
	if err := q.putResult(ctx, &fin); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := q.result(ctx, "t", "inv-2"); got.Status != api.StatusFailed {
		t.Errorf("inv-2 after its result: %s, want failed", got.Status)
	}
}

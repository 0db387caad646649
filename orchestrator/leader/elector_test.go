package leader

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/internal/natsd"
)

// startElectors runs an embedded NATS server and an Elector per id, each
// on a connection of its own.
func startElectors(t *testing.T, ttl time.Duration, announce func(Holder), ids ...string) []*Elector {
	t.Helper()
	srv, err := natsd.Start(natsd.Config{Dir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	connect := func() *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	var es []*Elector
	for _, id := range ids {
		nc := connect()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(t.Context(), Config{JS: js, ID: id, URL: "http://" + id, TTL: ttl, Announce: announce})
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	return es
}

// TestTakeOverAndFencing steps two replicas by hand: a creates the lease
// (term 1), b waits while a renews, takes over once it has seen no
// renewal for the TTL (a paused), at term 2; a, stepping again, learns
// it was deposed; each term was announced as it began.
func TestTakeOverAndFencing(t *testing.T) {
	ctx := t.Context()
	const ttl = time.Second
	terms := make(chan uint64, 64)
	es := startElectors(t, ttl, func(h Holder) { terms <- h.Term }, "a", "b")
	a, b := es[0], es[1]

	mustStep := func(e *Elector) {
		t.Helper()
		if err := e.step(ctx); err != nil {
			t.Fatalf("%s: %v", e.cfg.ID, err)
		}
	}
	mustStep(a)
	if h := <-a.Elected(); h.Term != 1 || h.ID != "a" {
		t.Fatalf("a elected as %+v, want term 1", h)
	}
	mustStep(b)
	for range 3 { // a renews, b sees it alive
		time.Sleep(ttl / 5)
		mustStep(a)
		mustStep(b)
	}
	if v := b.View(); v.Holder.ID != "a" {
		t.Fatalf("b sees %+v leading, want a", v.Holder)
	}
	select {
	case h := <-b.Elected():
		t.Fatalf("b took the lease while a renewed it: %+v", h)
	default:
	}
	time.Sleep(ttl + 50*time.Millisecond) // a is paused
	mustStep(b)
	if h := <-b.Elected(); h.Term != 2 || h.ID != "b" {
		t.Fatalf("b elected as %+v, want term 2", h)
	}
	if err := a.step(ctx); !errors.Is(err, ErrDeposed) {
		t.Fatalf("a stepping after b took over: %v, want ErrDeposed", err)
	}
	select {
	case <-a.Deposed():
	default:
		t.Fatal("a's Deposed is not closed")
	}
	var seen []uint64
	for len(terms) > 0 {
		seen = append(seen, <-terms)
	}
	if len(seen) == 0 || seen[0] != 1 || seen[len(seen)-1] != 2 {
		t.Errorf("announced terms %v, want 1 first and 2 last", seen)
	}
}

// TestReleaseHandsOverAtOnce: a leader that stops releases the lease and
// a standby running takes it well inside the TTL.
func TestReleaseHandsOverAtOnce(t *testing.T) {
	const ttl = 5 * time.Second
	es := startElectors(t, ttl, nil, "a", "b")
	a, b := es[0], es[1]
	actx, stopA := context.WithCancel(t.Context())
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(actx) }()
	<-a.Elected()
	bctx, stopB := context.WithCancel(t.Context())
	bDone := make(chan error, 1)
	go func() { bDone <- b.Run(bctx) }()
	defer func() { stopB(); <-bDone }()
	time.Sleep(ttl / 5)
	stopA()
	if err := <-aDone; err != nil {
		t.Fatalf("a's Run: %v", err)
	}
	start := time.Now()
	select {
	case h := <-b.Elected():
		if h.Term != 2 {
			t.Errorf("b took term %d, want 2", h.Term)
		}
		t.Logf("b took over %v after a released the lease (TTL %v)", time.Since(start), ttl)
	case <-time.After(ttl / 2):
		t.Fatalf("b did not take the released lease within %v", ttl/2)
	}
}

// TestTooShortALeaseIsRefused: a TTL under MinTTL (or negative) is an
// error naming the flag, not a ticker's panic.
func TestTooShortALeaseIsRefused(t *testing.T) {
	for _, ttl := range []time.Duration{time.Nanosecond, 50 * time.Millisecond, -time.Second} {
		if _, err := New(t.Context(), Config{ID: "a", TTL: ttl}); err == nil || !strings.Contains(err.Error(), "--lease-ttl") {
			t.Errorf("TTL %s: %v, want an error naming --lease-ttl", ttl, err)
		}
	}
}

// TestReleaseAfterAnUnansweredRenewal: a renewal written to the bucket
// whose answer never reached the leader (Run's context ended while it
// was in flight) leaves the leader a revision behind; releasing still
// hands the lease over at once, instead of leaving it to expire.
func TestReleaseAfterAnUnansweredRenewal(t *testing.T) {
	a := startElectors(t, 5*time.Second, nil, "a")[0]
	ctx := t.Context()
	if err := a.step(ctx); err != nil {
		t.Fatal(err)
	}
	if !a.leading {
		t.Fatal("a did not take the lease")
	}
	entry, err := a.kv.Get(ctx, Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.kv.Update(ctx, Key, entry.Value(), entry.Revision()); err != nil { // the unanswered renewal
		t.Fatal(err)
	}
	a.Resign()
	if entry, err = a.kv.Get(ctx, Key); err != nil {
		t.Fatal(err)
	}
	var h Holder
	if err := json.Unmarshal(entry.Value(), &h); err != nil {
		t.Fatal(err)
	}
	if h.ID != "a" || !h.Released {
		t.Fatalf("after a resigned the lease holds %+v; want a's, released", h)
	}
}

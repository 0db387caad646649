package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker/protocol"
)

// TestReplyMux sends requests whose replies come back out of order, to no
// one, and too late, over a real embedded NATS server.
func TestReplyMux(t *testing.T) {
	nc := testenv.NATS(t)
	// An echo service that answers the 10 requests it gets in reverse
	// order, and a silent one.
	got := make(chan *nats.Msg, 10)
	if _, err := nc.Subscribe("echo", func(m *nats.Msg) { got <- m }); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("silent", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	m := &replyMux{nc: nc}
	var pending []*pendingReply
	for i := range 10 {
		p, err := m.send("echo", fmt.Appendf(nil, "%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	var reqs []*nats.Msg
	for range 10 {
		reqs = append(reqs, <-got)
	}
	for i := len(reqs) - 1; i >= 0; i-- {
		if err := reqs[i].Respond(append([]byte("re "), reqs[i].Data...)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, p := range pending {
		msg, err := p.wait(ctx)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if want := fmt.Sprintf("re %d", i); string(msg.Data) != want {
			t.Errorf("request %d answered %q, want %q", i, msg.Data, want)
		}
	}

	p, err := m.send("nobody", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.wait(ctx); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("no responders: %v, want nats.ErrNoResponders", err)
	}

	p, err = m.send("silent", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := p.wait(short); !errors.Is(err, context.DeadlineExceeded) || !unreachable(err) {
		t.Errorf("no answer: %v, want a deadline the router takes for unreachable", err)
	}
	// A creation's own timeout, with no deadline on its context.
	p, err = m.send("silent", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.waitFor(context.Background(), time.After(50*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) || !unreachable(err) {
		t.Errorf("no answer within the timeout: %v, want a deadline the router takes for unreachable", err)
	}
	m.mu.Lock()
	left := len(m.waiting)
	m.mu.Unlock()
	if left != 0 {
		t.Errorf("%d requests still waiting, want none", left)
	}

	// A connection that cannot subscribe: an error, not a mux that
	// remembers the failure or sends without a reply subject.
	closed, err := nats.Connect(nc.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if _, err := (&replyMux{nc: closed}).send("echo", []byte("x")); err == nil || !strings.Contains(err.Error(), "subscribe to replies") {
		t.Errorf("send on a closed connection: %v, want the subscription's error", err)
	}
}

// TestStoppingRouterSendsNoCreation: once the router's background context
// is done (the orchestrator is stopping), a creation asked for then (a
// chain-warming timer firing during shutdown) fails without a request to
// any worker, whose last sweep may already be over.
func TestStoppingRouterSendsNoCreation(t *testing.T) {
	nc := testenv.NATS(t)
	var sent atomic.Int64
	if _, err := nc.Subscribe(protocol.CreateSubject("*"), func(*nats.Msg) { sent.Add(1) }); err != nil {
		t.Fatal(err)
	}
	w := NewWorkers(nc)
	w.Observe(protocol.Heartbeat{WorkerID: "w1", CPUMilli: 4000, MemoryBytes: 8 << 30, Interval: time.Second, Sent: time.Now()}, time.Now())
	bg, stop := context.WithCancel(context.Background())
	stop()
	failed := make(chan history.SandboxEvent, 1)
	r := NewRouter(bg, w, RouterConfig{Events: func(ev history.SandboxEvent) {
		if ev.Event == history.SandboxFailed {
			failed <- ev
		}
	}})
	r.Configure(FunctionConfig{Key: "t/w/f", Image: "x", CPUMilli: 100, MemoryBytes: 64 << 20})
	r.Apply(decide.ScalePlan{Create: map[string]int{"t/w/f": 1}})
	r.Wait()
	select {
	case ev := <-failed:
		if !strings.Contains(ev.Error, "stopping") {
			t.Errorf("failed event %q, want it to say the orchestrator is stopping", ev.Error)
		}
	default:
		t.Error("no failed event for the creation")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d create requests reached the workers, want none", n)
	}
}

// BenchmarkReplyMux is the ceiling of the creation's transport on this
// machine: requests through replyMux to an embedded NATS server and a
// responder on a connection of its own answering at once with a
// creation's reply, 64 in flight (the router's maxSending), over TCP as
// the orchestrator reaches the fleet's server in bench controlplane.
// Nothing else runs: no placement, no workers, no heartbeats.
func BenchmarkReplyMux(b *testing.B) {
	nc := testenv.NATS(b)
	responder, err := nats.Connect(nc.ConnectedUrl())
	if err != nil {
		b.Fatal(err)
	}
	defer responder.Close()
	reply := make([]byte, 330) // a CreateReply's size
	if _, err := responder.Subscribe("create", func(m *nats.Msg) { _ = m.Respond(reply) }); err != nil {
		b.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		b.Fatal(err)
	}
	m := &replyMux{nc: nc}
	request := make([]byte, 230) // a CreateRequest's size
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	done := make(chan error, maxSending)
	for range maxSending {
		go func() {
			for next.Add(1) <= int64(b.N) {
				p, err := m.send("create", request)
				if err == nil {
					_, err = p.wait(context.Background())
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range maxSending {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
}

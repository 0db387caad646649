package orchestrator

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/worker/protocol"
)

// TestNoFalseDeathOnALatePath runs the orchestrator's heartbeat handling
// (a subscription calling Workers.Heard, SweepWorkers) on a real NATS
// server while the paths of two workers' heartbeats stall for 200 and
// 400 ms, as on a loaded machine (the simulated workers' process or the
// NATS server busy with a burst of creations): their heartbeats, sent on
// time every 50 ms, come late, while another worker's come on time. No
// live worker may be declared dead; the worker that really stops is.
//
// Before heartbeatLag, the grace for late heartbeats was the lateness of
// the last heartbeat handled: the on-time worker's next one took it back
// while the second stalled worker's heartbeats were still on their way,
// and the sweep declared it dead.
func TestNoFalseDeathOnALatePath(t *testing.T) {
	const iv = 100 * time.Millisecond // dead after 400 ms of silence
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	workers := []struct {
		id string
		// Heartbeats sent in [holdFrom, holdTo-iv) are published with
		// the one sent at holdTo-iv: the path stalls.
		holdFrom, holdTo time.Duration
		stopAt           time.Duration // sends none from then on
	}{
		{id: "on-time", stopAt: ms(2500)},
		// Silent 300 ms, within its beats' bound: its heartbeats come
		// 200 ms late, the evidence that the path is slow.
		{id: "stalled-first", holdFrom: ms(900), holdTo: ms(1200), stopAt: ms(2500)},
		// Silent 500 ms: past its beats' bound, within it plus the 200 ms
		// its peer's heartbeats came late.
		{id: "stalled-second", holdFrom: ms(1000), holdTo: ms(1500), stopAt: ms(2500)},
		{id: "stops", stopAt: ms(1500)},
	}
	nc := testenv.NATS(t)
	pub, err := nats.Connect(nc.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	w := NewWorkers(nc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	router := NewRouter(ctx, w, RouterConfig{})
	sub, err := nc.Subscribe(protocol.HeartbeatSubjects, func(m *nats.Msg) {
		if _, err := w.Heard(m.Subject, m.Data, time.Now()); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		lost []string
	)
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		SweepWorkers(ctx, w, router, sub, func(id string, _ int) {
			mu.Lock()
			defer mu.Unlock()
			lost = append(lost, id)
		})
	}()

	start := time.Now()
	var beating sync.WaitGroup
	for _, wk := range workers {
		beating.Add(1)
		go func() {
			defer beating.Done()
			var held [][]byte
			for at := time.Duration(0); at < wk.stopAt; at += iv {
				time.Sleep(time.Until(start.Add(at)))
				data, err := json.Marshal(protocol.Heartbeat{WorkerID: wk.id, CPUMilli: 1000, MemoryBytes: 1 << 30, Interval: iv, Sent: time.Now()})
				if err != nil {
					t.Error(err)
					return
				}
				if held = append(held, data); at >= wk.holdFrom && at+iv < wk.holdTo {
					continue // the path stalls: sent, not yet delivered
				}
				for _, d := range held {
					if err := pub.Publish(protocol.HeartbeatSubject(wk.id), d); err != nil {
						t.Error(err)
					}
				}
				held = held[:0]
			}
		}()
	}
	beating.Wait()
	// The stopped worker is declared dead; wait for it well past the
	// bound, so that a loaded machine does not fail the test.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := slices.Contains(lost, "stops")
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-sweepDone
	if !slices.Equal(lost, []string{"stops"}) {
		t.Fatalf("declared dead %v; want only the worker that stopped: the others beat on time, their heartbeats only came late", lost)
	}
}

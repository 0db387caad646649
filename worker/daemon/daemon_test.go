package daemon_test

import (
	"context"
	"encoding/json"
	"slices"
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

// enteringRuntime is the fake runtime, telling when a creation starts. Its
// creations finish even when their context ends, as a real runtime's may
// once past its point of no return.
type enteringRuntime struct {
	*fake.Runtime
	entered chan struct{}
}

func (r enteringRuntime) Create(ctx context.Context, spec worker.SandboxSpec) (worker.Sandbox, error) {
	r.entered <- struct{}{}
	return r.Runtime.Create(context.WithoutCancel(ctx), spec)
}

// TestDeleteOnExitLeavesNoSandbox stops a daemon with DeleteOnExit and
// checks that the runtime has no sandbox left, whether the sandbox was
// made before the stop or its creation was in flight then (the creation
// that a deletion run while the daemon still served used to miss).
func TestDeleteOnExitLeavesNoSandbox(t *testing.T) {
	tests := []struct {
		name    string
		latency time.Duration
		// inFlight stops the daemon while the creation runs, not after
		// its answer.
		inFlight bool
	}{
		{"made before the stop", 0, false},
		{"creation in flight at the stop", 300 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := testenv.NATS(t)
			rt, err := fake.Open(fake.Config{CreateLatency: tt.latency})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			er := enteringRuntime{rt, make(chan struct{}, 1)}
			d := daemon.New(daemon.Config{ID: "w1", Conn: nc, Runtime: er, CPUMilli: 1000, MemoryBytes: 1 << 30, DeleteOnExit: true})
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()

			req, _ := json.Marshal(protocol.CreateRequest{Spec: worker.SandboxSpec{
				ID: "sb-1", Function: "t/w/f", Image: "baton.local/testfn-ok:v1", CPUMilli: 100, MemoryBytes: 64 << 20}})
			replied := make(chan *nats.Msg, 1)
			go func() {
				for {
					m, err := nc.Request(protocol.CreateSubject("w1"), req, 5*time.Second)
					if err == nats.ErrNoResponders { // not subscribed yet
						time.Sleep(10 * time.Millisecond)
						continue
					}
					replied <- m
					return
				}
			}()
			<-er.entered
			if !tt.inFlight {
				if m := <-replied; m == nil {
					t.Fatal("no answer to the creation")
				}
				if sbs, _ := rt.List(ctx); len(sbs) != 1 {
					t.Fatalf("%d sandboxes before the stop, want 1", len(sbs))
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Fatalf("run: %v", err)
			}
			sbs, err := rt.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(sbs) != 0 {
				t.Errorf("%d sandboxes left after the daemon stopped: %+v", len(sbs), sbs)
			}
		})
	}
}

// imagesRuntime is the fake runtime with the images given.
type imagesRuntime struct {
	*fake.Runtime
	images []string
}

func (r imagesRuntime) Images(context.Context) ([]string, error) { return r.images, nil }

// TestHeartbeatsNameOnlyLocalImages checks that a worker's heartbeats list
// the local images a deploy looks for, and none it pulled for a tenant:
// those names are the tenant's, and the list would grow with the cache.
func TestHeartbeatsNameOnlyLocalImages(t *testing.T) {
	nc := testenv.NATS(t)
	rt, err := fake.Open(fake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	beats := make(chan *nats.Msg, 4)
	sub, err := nc.ChanSubscribe(protocol.HeartbeatSubject("w1"), beats)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // test end
	ir := imagesRuntime{rt, []string{"baton.local/testfn-ok:v1", "registry.acme.example/secret/fn@sha256:" + strings.Repeat("ab", 32), "baton.local/wordcount:v1"}}
	d := daemon.New(daemon.Config{ID: "w1", Conn: nc, Runtime: ir, CPUMilli: 1000, MemoryBytes: 1 << 30, HeartbeatInterval: time.Hour})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { stop(); <-done }()
	select {
	case m := <-beats:
		var hb protocol.Heartbeat
		if err := json.Unmarshal(m.Data, &hb); err != nil {
			t.Fatal(err)
		}
		if want := []string{"baton.local/testfn-ok:v1", "baton.local/wordcount:v1"}; !slices.Equal(hb.Images, want) {
			t.Errorf("heartbeat images %q, want %q", hb.Images, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat")
	}
}

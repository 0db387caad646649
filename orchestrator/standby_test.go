package orchestrator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/registry"
	"baton.dev/baton/worker/protocol"
	"baton.dev/baton/workflow"
)

// TestAStandbyKeepsWarm: a warm standby (Config.Standby) follows what the
// leader writes (deployments made and removed, tenants and their keys,
// registry logins, drained workers) and keeps the workers' heartbeats, and acts on none of it:
// it asks no worker for its sandboxes and takes no tenant's key. Lead
// takes in even a write made just before it, without a reload; then the
// tenant's key works and the standby asks the worker it knows for its
// sandboxes, though the worker sent no heartbeat since.
func TestAStandbyKeepsWarm(t *testing.T) {
	nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, log := t.Context(), slog.New(slog.DiscardHandler)
	secret := bytes.Repeat([]byte{7}, SecretKeySize)

	// The leader's writes, made through the registry and logins alone so
	// that no other orchestrator talks to the worker.
	reg, err := OpenRegistry(ctx, js, log)
	if err != nil {
		t.Fatal(err)
	}
	logins, err := OpenLogins(ctx, js, secret, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Lead(ctx); err != nil {
		t.Fatal(err)
	}
	if err := logins.Lead(ctx); err != nil {
		t.Fatal(err)
	}
	put := func(tenant, name string) {
		t.Helper()
		src := fmt.Sprintf("apiVersion: baton.dev/v1\nkind: Workflow\nmetadata: {name: %s}\nspec:\n  functions:\n    f: {image: baton.local/f:v1, resources: {cpu: 250m, memory: 64Mi}}\n  stages:\n    - {name: s, function: f}\n", name)
		wf, err := workflow.Parse(name+".yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Put(ctx, &Deployment{Tenant: tenant, Name: name, Source: src, Deployed: time.Now(), Workflow: wf}); err != nil {
			t.Fatal(err)
		}
	}
	put("acme", "before") // there when the standby starts

	lists := make(chan struct{}, 16) // the worker's list requests
	sub, err := nc.Subscribe(protocol.ListSubject("w1"), func(m *nats.Msg) {
		lists <- struct{}{}
		b, _ := json.Marshal(protocol.ListReply{})
		_ = m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck

	keys := NewKeys()
	sb, err := New(ctx, Config{Conn: nc, Keys: keys, SecretKey: secret, Standby: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()

	hb, _ := json.Marshal(protocol.Heartbeat{WorkerID: "w1", Runtime: "fake", CPUMilli: 1000, MemoryBytes: 1 << 30, Sent: time.Now(), Interval: time.Hour, Incarnation: "i1"})
	if err := nc.Publish(protocol.HeartbeatSubject("w1"), hb); err != nil {
		t.Fatal(err)
	}
	// w2 beats once, with three sandboxes, and stops while the replica
	// stands by: Lead finds it dead, counts it lost and its sandboxes
	// stranded.
	hb2, _ := json.Marshal(protocol.Heartbeat{WorkerID: "w2", Runtime: "process", CPUMilli: 1000, MemoryBytes: 1 << 30, Sent: time.Now(), Interval: 20 * time.Millisecond, Incarnation: "i2", Sandboxes: 3})
	if err := nc.Publish(protocol.HeartbeatSubject("w2"), hb2); err != nil {
		t.Fatal(err)
	}
	put("acme", "during")
	put("acme", "removed")
	if err := reg.Delete(ctx, "acme", "removed"); err != nil {
		t.Fatal(err)
	}
	apiKey := NewAPIKey()
	if err := reg.PutTenant(ctx, &Tenant{Name: "acme", Created: time.Now(), Keys: []TenantKey{{SHA256: HashKey(apiKey)}}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetDrained(ctx, "w1", true); err != nil {
		t.Fatal(err)
	}
	if err := logins.Put(ctx, "acme", "registry.example.com", registry.Credential{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}

	// Followed while standing by.
	waitFor(t, "the standby sees the leader's writes and the worker", func() bool {
		_, during := sb.registry.Get("acme", "during")
		_, removed := sb.registry.Get("acme", "removed")
		return during && !removed && len(sb.registry.Drained()) == 1 && len(sb.registry.Tenants()) == 1 && len(sb.logins.List("acme")) == 1 && sb.standingBy.holds("w1") && sb.standingBy.holds("w2")
	})
	if _, ok := sb.registry.Get("acme", "before"); !ok {
		t.Fatal("the deployment stored before the standby started is not in its registry")
	}
	if _, ok := keys.Lookup(apiKey); ok {
		t.Fatal("a standby took a tenant's key: it serves nothing until it leads")
	}
	if err := sb.Run(ctx); err == nil {
		t.Fatal("a standby ran before it led")
	}
	time.Sleep(300 * time.Millisecond) // w2 misses its heartbeats meanwhile
	if n := len(lists); n != 0 {
		t.Fatalf("the standby asked the worker for its sandboxes %d times: it acts on nothing until it leads", n)
	}

	// A write just before the takeover is taken in by Lead itself.
	put("acme", "last")
	if n := sb.workers.Live(time.Now()); n != 0 {
		t.Fatalf("a standby decoded heartbeats into its worker table (%d live): it keeps them as they came until it leads", n)
	}
	if err := sb.Lead(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if n := sb.workers.Live(time.Now()); n != 1 {
		t.Fatalf("after Lead %d workers are live, want w1 from the heartbeat kept while standing by", n)
	}
	if lost, stranded := counterValue(t, sb.metrics.workersLost), sb.workers.Stranded(); lost != 1 || stranded != 3 {
		t.Fatalf("after Lead %v workers lost and %d sandboxes stranded; want w2, which stopped while the replica stood by, and its 3", lost, stranded)
	}
	if _, ok := sb.registry.Get("acme", "last"); !ok {
		t.Fatal("Lead did not take in the leader's last write")
	}
	if p, ok := keys.Lookup(apiKey); !ok || p.Tenant != "acme" {
		t.Fatalf("after Lead the tenant's key is %+v, %v; want acme's", p, ok)
	}
	if v := sb.workers.Views(time.Now()); len(v) != 2 || v[0].State != "draining" || v[1].State != "dead" {
		t.Fatalf("after Lead the workers are %+v; want w1 draining, as the leader left it, and w2 dead", v)
	}
	if sb.workers.term != 7 {
		t.Fatalf("term %d after Lead at 7", sb.workers.term)
	}
	select {
	case <-lists:
	case <-time.After(10 * time.Second):
		t.Fatal("after Lead the worker was not asked for its sandboxes")
	}
	if err := sb.Lead(ctx, 8); err == nil {
		t.Fatal("a second Lead was accepted")
	}
}

// holds reports whether a full heartbeat of worker id was kept.
func (s *heardWhileStandingBy) holds(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.m[protocol.HeartbeatSubject(id)]
	return h != nil && h.full != nil
}

// counterValue reads counter c.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil || len(fams) != 1 || len(fams[0].GetMetric()) != 1 {
		t.Fatalf("gather counter: %v families, %v", len(fams), err)
	}
	return fams[0].GetMetric()[0].GetCounter().GetValue()
}

package standalone_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
)

// oomSubnet is this test's sandbox subnet (tests on one machine need
// their own).
const oomSubnet = "10.183.0.0/16"

// oomYAML deploys one function of the test image in its oom mode: it
// echoes its input, but runs out of memory on {"oom":true}.
func oomYAML(workflow string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: %s}
spec:
  functions:
    f: {image: baton.local/testfn-ok:v1, resources: {cpu: 250m, memory: 64Mi}, env: {BATON_TESTFN_MODE: oom}}
  stages:
    - {name: only, function: f}
`, workflow))
}

// TestOOMFailsTheInvocationSayingSo runs a function past its memory limit
// on a real containerd worker: the kernel kills it, the invocation fails
// saying the function ran out of memory and naming the limit, the
// sandbox is removed, and the worker keeps serving: the next invocation
// of the same function succeeds on a new sandbox.
func TestOOMFailsTheInvocationSayingSo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups, network namespaces and a bridge")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cl := startBaton(t, standalone.Config{
		Runtime: standalone.RuntimeContainerd, Subnet: oomSubnet, Postgres: "off",
		Orchestration: standalone.Orchestration{KeepAlive: time.Minute, HealthTimeout: 10 * time.Second, AutoscaleTick: 250 * time.Millisecond},
	}, slog.LevelInfo)
	t.Cleanup(func() {
		if err := cl.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	api := &client.Client{URL: cl.URL, Token: cl.Token}
	admin := &client.Client{URL: cl.URL, Token: cl.AdminToken}
	ctrd, err := containerd.New(cl.ContainerdAddress)
	if err != nil {
		t.Fatalf("connect to containerd: %v", err)
	}
	t.Cleanup(func() { ctrd.Close() })
	cctx := namespaces.WithNamespace(ctx, "baton")

	const name = "e2e-oom"
	if _, err := api.Deploy(ctx, name+".yaml", oomYAML(name)); err != nil {
		t.Fatal(err)
	}
	_, err = api.Invoke(ctx, name, []byte(`{"oom":true}`))
	ce := wantStatus(t, "an invocation that runs out of memory", err, http.StatusBadGateway,
		`stage "only": function f ran out of memory (limit 64 MiB) and was killed`)
	if ce == nil {
		t.FailNow()
	}
	inv, err := api.Invocation(ctx, ce.InvocationID)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != "failed" || inv.Stage != "only" || len(inv.Stages) != 1 || inv.Stages[0].Calls != 1 {
		t.Fatalf("invocation record: status %s, failed stage %q, stages %+v", inv.Status, inv.Stage, inv.Stages)
	}
	killed := inv.Stages[0].Sandbox
	t.Logf("invocation failed: %s (sandbox %s)", inv.Error, killed)

	// The worker lives: the next invocation succeeds, on a new sandbox.
	res, err := api.Invoke(ctx, name, []byte(`{"after":"oom"}`))
	if err != nil {
		t.Fatalf("the invocation after the OOM: %v", err)
	}
	assertJSONEqual(t, res.Output, []byte(`{"after":"oom"}`))
	next, err := api.Invocation(ctx, res.InvocationID)
	if err != nil {
		t.Fatal(err)
	}
	if sb := next.Stages[0].Sandbox; sb == killed {
		t.Errorf("the invocation after the OOM ran on the killed sandbox %s", sb)
	}
	workers, err := admin.Workers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range workers {
		if w.State != "ready" {
			t.Errorf("worker %s is %s after the OOM, want ready", w.ID, w.State)
		}
	}

	// The killed sandbox is removed, as a crashed one is (in the
	// background).
	for containerIDs(t, cctx, ctrd)[killed] {
		if ctx.Err() != nil {
			t.Fatalf("the killed sandbox %s is still in containerd", killed)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

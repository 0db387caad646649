package standalone_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
)

// twoFunctionYAML is a workflow of two one-stage paths: f answers after
// delay (holding its sandbox busy meanwhile), g at once; cpu is each
// function's CPU.
func twoFunctionYAML(name, cpu, delay string) []byte {
	return fmt.Appendf(nil, `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: %s}
spec:
  functions:
    f: {image: baton.local/testfn-ok:v1, resources: {cpu: %s, memory: 64Mi}, env: {BATON_TESTFN_DELAY: %s}}
    g: {image: baton.local/testfn-ok:v1, resources: {cpu: %s, memory: 64Mi}}
  stages:
    - {name: slow, function: f, when: 'input.slow'}
    - {name: quick, function: g, when: '!input.slow'}
`, name, cpu, delay, cpu)
}

// TestTenantQuotas sets quotas on one tenant and checks each is held, with
// 429 and Retry-After beyond it, while another tenant is not affected: the
// invocation rate (sync and async), the sandboxes (a function with no room
// is refused while the tenant's other sandbox is busy, and gets room from
// it once it is idle), and the size of a deployed function. Bad quotas,
// and quotas under what a deployed workflow needs, are refused.
func TestTenantQuotas(t *testing.T) {
	ctx := context.Background()
	cl := startBaton(t, standalone.Config{Runtime: standalone.RuntimeProcess,
		Orchestration: standalone.Orchestration{KeepAlive: time.Minute, AutoscaleTick: 50 * time.Millisecond}}, slog.LevelWarn)
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	admin := &client.Client{URL: cl.URL, Token: cl.AdminToken}
	ta, err := admin.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := admin.CreateTenant(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	acme := &client.Client{URL: cl.URL, Token: ta.Key}
	beta := &client.Client{URL: cl.URL, Token: tb.Key}
	for _, c := range []*client.Client{acme, beta} {
		if _, err := c.Deploy(ctx, "two.yaml", twoFunctionYAML("two", "100m", "1500ms")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("bad quotas", func(t *testing.T) {
		_, err := admin.SetTenantQuota(ctx, "acme", api.Quota{Sandboxes: -1})
		wantStatus(t, "a negative bound", err, http.StatusBadRequest, "positive")
		_, err = admin.SetTenantQuota(ctx, "acme", api.Quota{CPUMilli: 50})
		wantStatus(t, "a CPU quota under a deployed function's", err, http.StatusUnprocessableEntity, "workflow two, function f", "cpu 100m")
		_, err = admin.SetTenantQuota(ctx, "nobody", api.Quota{Sandboxes: 1})
		wantStatus(t, "an unknown tenant", err, http.StatusNotFound, "nobody")
		_, err = acme.SetTenantQuota(ctx, "acme", api.Quota{})
		wantStatus(t, "a tenant setting its own quota", err, http.StatusForbidden)
		if list, err := admin.Tenants(ctx); err != nil || list[0].Quota != nil {
			t.Errorf("after refused quotas, acme has %+v, %v; want no quota", list, err)
		}
	})

	t.Run("a deploy above the quota", func(t *testing.T) {
		if _, err := admin.SetTenantQuota(ctx, "acme", api.Quota{CPUMilli: 500}); err != nil {
			t.Fatal(err)
		}
		_, err := acme.Deploy(ctx, "big.yaml", twoFunctionYAML("big", "1000m", "0s"))
		ce := wantStatus(t, "a function above the CPU quota", err, http.StatusUnprocessableEntity, "cpu 1000m is above the tenant's quota of 500m")
		if ce != nil && (len(ce.Problems) != 2 || ce.Problems[0].Field != "spec.functions.f.resources" || ce.Problems[0].File != "big.yaml" || ce.Problems[0].Line != 6) {
			t.Errorf("problems %+v, want spec.functions.f.resources at big.yaml:6 and g's", ce.Problems)
		}
		if _, err := acme.Workflow(ctx, "big"); err == nil {
			t.Error("the refused workflow was stored")
		}
		if _, err := beta.Deploy(ctx, "big.yaml", twoFunctionYAML("big", "1000m", "0s")); err != nil {
			t.Errorf("beta, without a quota, deploys it: %v", err)
		}
	})

	t.Run("invocations per second", func(t *testing.T) {
		if _, err := admin.SetTenantQuota(ctx, "acme", api.Quota{InvocationsPerSecond: 0.5, Burst: 2}); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if _, err := acme.Invoke(ctx, "two", []byte(`{"slow":false}`)); err != nil {
				t.Fatalf("invocation %d of the burst: %v", i, err)
			}
		}
		_, err := acme.Invoke(ctx, "two", []byte(`{"slow":false}`))
		if ce := wantStatus(t, "the invocation beyond the burst", err, http.StatusTooManyRequests, "invocations per second"); ce != nil && ce.RetryAfter < time.Second {
			t.Errorf("Retry-After %v, want at least 1s", ce.RetryAfter)
		}
		_, err = acme.InvokeAsync(ctx, "two", []byte(`{"slow":false}`))
		wantStatus(t, "an async invocation beyond it", err, http.StatusTooManyRequests)
		for i := range 5 {
			if _, err := beta.Invoke(ctx, "two", []byte(`{"slow":false}`)); err != nil {
				t.Errorf("beta's invocation %d while acme is limited: %v", i, err)
			}
		}
	})

	t.Run("sandboxes", func(t *testing.T) {
		if _, err := admin.SetTenantQuota(ctx, "acme", api.Quota{Sandboxes: 1}); err != nil {
			t.Fatal(err)
		}
		// acme's one sandbox of g is idle from before; f takes its room.
		slow := make(chan error, 1)
		go func() {
			_, err := acme.Invoke(ctx, "two", []byte(`{"slow":true}`))
			slow <- err
		}()
		waitFor(t, "f's sandbox busy", func() bool { return tenantSandboxes(cl, "acme") == 1 && busy(cl, "acme/two/f") })
		_, err := acme.Invoke(ctx, "two", []byte(`{"slow":false}`))
		if ce := wantStatus(t, "g while f holds acme's one sandbox", err, http.StatusTooManyRequests, "function two/g has none"); ce != nil && ce.RetryAfter < time.Second {
			t.Errorf("Retry-After %v", ce.RetryAfter)
		}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				if _, err := beta.Invoke(ctx, "two", []byte(`{"slow":false}`)); err != nil {
					t.Errorf("beta's invocation %d meanwhile: %v", i, err)
				}
			})
		}
		wg.Wait()
		if err := <-slow; err != nil {
			t.Fatalf("f: %v", err)
		}
		if _, err := acme.Invoke(ctx, "two", []byte(`{"slow":false}`)); err != nil {
			t.Errorf("g once f's sandbox is idle (it makes room): %v", err)
		}
		if n := tenantSandboxes(cl, "acme"); n > 1 {
			t.Errorf("acme holds %d sandboxes under a quota of 1", n)
		}
	})

	t.Run("lifted", func(t *testing.T) {
		v, err := admin.SetTenantQuota(ctx, "acme", api.Quota{})
		if err != nil || v.Quota != nil {
			t.Fatalf("lift: %+v, %v", v, err)
		}
		for range 5 {
			if _, err := acme.Invoke(ctx, "two", []byte(`{"slow":false}`)); err != nil {
				t.Errorf("after the quota is lifted: %v", err)
			}
		}
	})
}

// tenantSandboxes counts a tenant's sandboxes in the router's pools.
func tenantSandboxes(cl *standalone.Cluster, tenant string) int {
	n := 0
	for _, p := range cl.Orchestrator.PoolStates() {
		if p.Tenant == tenant {
			n += len(p.Idle) + p.Busy + p.Creating
		}
	}
	return n
}

// busy reports whether the pool of key has a busy sandbox.
func busy(cl *standalone.Cluster, key string) bool {
	for _, p := range cl.Orchestrator.PoolStates() {
		if p.Function == key {
			return p.Busy > 0
		}
	}
	return false
}

// waitFor waits up to 30 s for ok.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

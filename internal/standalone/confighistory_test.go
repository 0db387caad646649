package standalone_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
)

// waitChanges polls a workflow's configuration history until it lists
// want changes and their windows count invocations invocations in all
// (history is written off the invocation path).
func waitChanges(t *testing.T, c *client.Client, workflow string, want, invocations int) *api.ConfigurationHistory {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := c.Configurations(context.Background(), workflow, "", 0)
		if err != nil {
			t.Fatalf("configuration history of %s: %v", workflow, err)
		}
		n := 0
		for _, ch := range h.Changes {
			n += ch.After.Invocations
		}
		if len(h.Changes) == want && n == invocations {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("the configuration history of %s lists %d changes over %d invocations, want %d over %d", workflow, len(h.Changes), n, want, invocations)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConfigurationHistoryOverTheAPI runs Baton with history: a deploy,
// a configuration the tuner explores, one it chooses and one chosen by
// hand, with invocations between them, are listed by GET
// /v1/workflows/{name}/configurations newest first with their kinds,
// resources before and after, and invocations before and after; each
// invocation's input and output sizes are in the invocation API; another
// tenant's key gets 404 (the same as an unknown workflow, naming no
// tenant), the admin key 403, and bad parameters 400 naming them.
func TestConfigurationHistoryOverTheAPI(t *testing.T) {
	ctx := context.Background()
	tt := startTwoTenants(t, "plain", 1)
	admin, alpha, beta := tt.admin, tt.alpha, tt.beta
	if _, err := alpha.Deploy(ctx, "auto.yaml", []byte(autoYAML)); err != nil {
		t.Fatal(err)
	}
	invoke := func(n int) {
		t.Helper()
		for range n {
			if _, err := alpha.Invoke(ctx, "auto", []byte(`{"x":1}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	choose := func(cpu int64, policy, kind string) {
		t.Helper()
		if _, err := alpha.Choose(ctx, "auto", api.Choice{Functions: map[string]api.Resources{"f": {CPUMilli: cpu, MemoryBytes: 128 << 20}}, Policy: policy, Kind: kind, Reason: "test " + kind}); err != nil {
			t.Fatal(err)
		}
	}
	invoke(2)
	choose(500, "aquatope", api.ChangeExplore)
	invoke(1)
	choose(250, "aquatope", "") // a tuner's policy: a tuning
	invoke(3)
	choose(1000, "", "") // by hand
	h := waitChanges(t, alpha, "auto", 4, 6)

	type want struct {
		kind                string
		cpuBefore, cpuAfter int64 // f's; 0 before: none
		invBefore, invAfter int   // -1: no window before
	}
	for i, w := range []want{
		{api.ChangeManual, 250, 1000, 3, 0},
		{api.ChangeTune, 500, 250, 2, 3}, // against the deploy's, before the exploration
		{api.ChangeExplore, 2000, 500, 2, 1},
		{api.ChangeDeploy, 0, 2000, -1, 2},
	} {
		c := h.Changes[i]
		var f *api.FunctionChange
		for j := range c.Functions {
			if c.Functions[j].Function == "f" {
				f = &c.Functions[j]
			}
		}
		before := int64(0)
		if f != nil && f.Before != nil {
			before = f.Before.CPUMilli
		}
		invBefore := -1
		if c.Before != nil {
			invBefore = c.Before.Invocations
		}
		if c.Kind != w.kind || f == nil || f.After == nil || before != w.cpuBefore || f.After.CPUMilli != w.cpuAfter || invBefore != w.invBefore || c.After.Invocations != w.invAfter {
			t.Errorf("change %d: %s, f %+v, invocations %d -> %d; want %s, f %dm -> %dm, invocations %d -> %d",
				i, c.Kind, f, invBefore, c.After.Invocations, w.kind, w.cpuBefore, w.cpuAfter, w.invBefore, w.invAfter)
		}
	}
	if h.Percentile != 95 || h.WindowSeconds != 3600 {
		t.Errorf("percentile %g, window %gs; want the workflow's p95 and the default hour", h.Percentile, h.WindowSeconds)
	}

	// Sizes: the input as sent, the output as answered.
	res, err := alpha.Invoke(ctx, "auto", []byte(`{"size":12345}`))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := alpha.Invocation(ctx, res.InvocationID)
	if err != nil {
		t.Fatal(err)
	}
	if inv.InputBytes == nil || *inv.InputBytes != int64(len(`{"size":12345}`)) || inv.OutputBytes == nil || *inv.OutputBytes != int64(len(res.Output)) {
		t.Errorf("invocation sizes %v in, %v out; want %d and %d", inv.InputBytes, inv.OutputBytes, len(`{"size":12345}`), len(res.Output))
	}

	// Another tenant, the admin key, a bad kind and bad parameters.
	_, err = beta.Configurations(ctx, "auto", "", 0)
	if ce := wantStatus(t, "beta reads alpha's configuration history", err, http.StatusNotFound, `workflow "auto": workflow not found`); ce != nil && strings.Contains(ce.Message, "alpha") {
		t.Errorf("the refusal names alpha: %q", ce.Message)
	}
	_, err = alpha.Configurations(ctx, "no-such-workflow", "", 0)
	wantStatus(t, "an unknown workflow", err, http.StatusNotFound, "no-such-workflow")
	_, err = admin.Configurations(ctx, "auto", "", 0)
	wantStatus(t, "the admin key on a tenant's configuration history", err, http.StatusForbidden)
	_, err = alpha.Choose(ctx, "auto", api.Choice{Functions: map[string]api.Resources{"f": {CPUMilli: 500, MemoryBytes: 128 << 20}}, Kind: "deploy"})
	wantStatus(t, "a choice of kind deploy", err, http.StatusBadRequest, "kind:")
	for _, c := range []struct {
		window string
		limit  int
		names  string
	}{
		{"fast", 0, "window="},
		{"0s", 0, "window="},
		{"720h", 0, "window="},
		{"", -1, "limit="},
		{"", 1001, "limit="},
	} {
		_, err := alpha.Configurations(ctx, "auto", c.window, c.limit)
		wantStatus(t, "configurations window "+c.window, err, http.StatusBadRequest, c.names)
	}
}

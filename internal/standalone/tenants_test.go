package standalone_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
)

// startProcessCluster runs Baton on the local-process runtime with a
// private Postgres in dataDir, which is enough for what does not depend on
// containers: tenants, history and reports.
func startProcessCluster(t *testing.T, dataDir string) *standalone.Cluster {
	t.Helper()
	cl := startBaton(t, standalone.Config{
		DataDir: dataDir, Runtime: standalone.RuntimeProcess, Orchestration: standalone.Orchestration{KeepAlive: time.Minute},
	}, slog.LevelWarn)
	if cl.History == "off" {
		t.Fatal("history is off: the Postgres server binaries should be installed (make deps)")
	}
	return cl
}

// wantStatus checks that err is the API's answer with the status and, when
// contains is given, a message containing it; it returns that answer, nil
// (after reporting why) when err is anything else.
func wantStatus(t *testing.T, what string, err error, status int, contains ...string) *client.Error {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != status {
		t.Errorf("%s: got %v, want HTTP %d", what, err, status)
		return nil
	}
	for _, c := range contains {
		if !strings.Contains(ce.Message, c) {
			t.Errorf("%s: got %d %q, want a message containing %q", what, ce.Status, ce.Message, c)
			return nil
		}
	}
	return ce
}

// TestTenantsAreIsolated creates two tenants and checks that neither can
// list, read, invoke, delete or report on the other's workflows and
// invocations; that a missing or wrong key gets 401 and a key used
// outside its role 403; and that tenants and their keys survive a
// restart.
func TestTenantsAreIsolated(t *testing.T) {
	ctx := context.Background()
	dataDir := shortTempDir(t)
	cl := startProcessCluster(t, dataDir)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cl.Stop(context.Background())
		}
	})
	admin := &client.Client{URL: cl.URL, Token: cl.AdminToken}
	ta, err := admin.CreateTenant(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := admin.CreateTenant(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ta.Key, "bk_") || ta.Key == tb.Key {
		t.Fatalf("tenant keys %q and %q: want two distinct bk_ keys", ta.Key, tb.Key)
	}
	_, err = admin.CreateTenant(ctx, "alpha")
	wantStatus(t, "creating alpha again", err, http.StatusConflict)
	_, err = admin.CreateTenant(ctx, "Not_A_Name")
	wantStatus(t, "creating a tenant with a bad name", err, http.StatusBadRequest)

	alpha := &client.Client{URL: cl.URL, Token: ta.Key}
	beta := &client.Client{URL: cl.URL, Token: tb.Key}
	_, err = (&client.Client{URL: cl.URL}).Workflows(ctx)
	wantStatus(t, "no key", err, http.StatusUnauthorized)
	_, err = (&client.Client{URL: cl.URL, Token: "bk_" + strings.Repeat("0", 64)}).Workflows(ctx)
	wantStatus(t, "a wrong key", err, http.StatusUnauthorized)
	_, err = admin.Workflows(ctx)
	wantStatus(t, "the admin key on tenant routes", err, http.StatusForbidden)
	_, err = alpha.Tenants(ctx)
	wantStatus(t, "a tenant key on admin routes", err, http.StatusForbidden)
	// /metrics names every tenant's workflows: the operator's only.
	for _, c := range []struct {
		who, key string
		want     int
	}{{"no key", "", http.StatusUnauthorized}, {"a tenant key", ta.Key, http.StatusForbidden}, {"the admin key", cl.AdminToken, http.StatusOK}} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cl.URL+"/metrics", nil)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET /metrics with %s: %s, want %d", c.who, resp.Status, c.want)
		}
	}

	if _, err := alpha.Deploy(ctx, "w.yaml", []byte(wfYAML("w", "testfn-ok", "- {name: only, function: f}"))); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		res, err := alpha.Invoke(ctx, "w", []byte(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.InvocationID)
	}

	if list, err := beta.Workflows(ctx); err != nil || len(list) != 0 {
		t.Errorf("beta lists %v, %v; want nothing", list, err)
	}
	_, err = beta.Workflow(ctx, "w")
	wantStatus(t, "beta reads alpha's workflow", err, http.StatusNotFound)
	_, err = beta.Invoke(ctx, "w", []byte(`{}`))
	wantStatus(t, "beta invokes alpha's workflow", err, http.StatusNotFound)
	err = beta.DeleteWorkflow(ctx, "w")
	wantStatus(t, "beta deletes alpha's workflow", err, http.StatusNotFound)
	_, err = beta.Invocation(ctx, ids[0])
	wantStatus(t, "beta reads alpha's invocation", err, http.StatusNotFound)
	if list, err := beta.Invocations(ctx, "", 100); err != nil || len(list) != 0 {
		t.Errorf("beta's invocations = %d, %v; want none", len(list), err)
	}

	// Alpha's report counts its three invocations once history has them;
	// beta's has none of them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep, err := alpha.Reports(ctx, "w", "1h")
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Workflows) != 1 || rep.Workflows[0].Figures == nil {
			t.Fatalf("alpha's report: %+v", rep)
		}
		if f := rep.Workflows[0].Figures; f.Invocations == 3 {
			// Idle > 0: the sandbox's ready event is in history and it was
			// warm far longer than its three short runs.
			if f.Errors != 0 || len(f.Stages) != 1 || f.Stages[0].Runs != 3 || f.Cost.Execution <= 0 || f.Cost.Idle <= 0 {
				t.Errorf("alpha's report figures: %+v", f)
			}
			if c := rep.Workflows[0].Configuration; len(c) != 1 || c[0].ChosenBy != "fixed" || c[0].CPUMilli != 250 {
				t.Errorf("alpha's configuration: %+v", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alpha's report never counted 3 invocations: %+v", rep.Workflows[0].Figures)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep, err := beta.Reports(ctx, "w", "1h")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rep.Workflows {
		if w.Figures != nil && w.Figures.Invocations != 0 {
			t.Errorf("beta's report shows alpha's invocations: %+v", w.Figures)
		}
	}

	// Beta may use the same workflow name; it is a different workflow.
	if _, err := beta.Deploy(ctx, "w.yaml", []byte(wfYAML("w", "testfn-ok", "- {name: only, function: f}"))); err != nil {
		t.Fatal(err)
	}
	if _, err := beta.Invoke(ctx, "w", []byte(`{"b":2}`)); err != nil {
		t.Fatal(err)
	}
	if list, err := alpha.Invocations(ctx, "w", 100); err != nil || len(list) != 3 {
		t.Errorf("alpha's invocations after beta's = %d, %v; want 3", len(list), err)
	}

	// After a restart the tenants and their keys are still there (in the
	// key-value bucket), and alpha's old invocations are read from history.
	stopped = true
	if err := cl.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	cl2 := startProcessCluster(t, dataDir)
	t.Cleanup(func() { _ = cl2.Stop(context.Background()) })
	alpha.URL = cl2.URL
	if list, err := alpha.Workflows(ctx); err != nil || len(list) != 1 {
		t.Fatalf("alpha's workflows after a restart = %v, %v; want w", list, err)
	}
	inv, err := alpha.Invocation(ctx, ids[1])
	if err != nil || inv.Status != "succeeded" || len(inv.Stages) != 1 {
		t.Errorf("alpha's invocation %s from history = %+v, %v", ids[1], inv, err)
	}
}

// TestReportsSayPlainlyWhenHistoryIsOff runs without Postgres: the report
// says history is off and carries no figures, only the configuration.
func TestReportsSayPlainlyWhenHistoryIsOff(t *testing.T) {
	ctx := context.Background()
	cl := startBaton(t, standalone.Config{
		Runtime: standalone.RuntimeProcess, Postgres: "off",
	}, slog.LevelError)
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	api := &client.Client{URL: cl.URL, Token: cl.Token}
	if _, err := api.Deploy(ctx, "w.yaml", []byte(wfYAML("w", "testfn-ok", "- {name: only, function: f}"))); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Invoke(ctx, "w", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	rep, err := api.Reports(ctx, "", "1h")
	if err != nil {
		t.Fatal(err)
	}
	if rep.History != "off" || !strings.Contains(rep.Message, "history is off") {
		t.Errorf("report history = %q, message %q; want off, said plainly", rep.History, rep.Message)
	}
	if len(rep.Workflows) != 1 || rep.Workflows[0].Figures != nil || len(rep.Workflows[0].Configuration) != 1 {
		t.Errorf("report without history: %+v; want w with its configuration and no figures", rep.Workflows)
	}
}

// TestDrainedWorkerTakesNoNewSandboxes drains the only worker: a cold
// start then finds no capacity (503) while warm sandboxes keep serving;
// undrained, cold starts work again.
func TestDrainedWorkerTakesNoNewSandboxes(t *testing.T) {
	ctx := context.Background()
	cl := startBaton(t, standalone.Config{
		Runtime: standalone.RuntimeProcess, Postgres: "off", Orchestration: standalone.Orchestration{KeepAlive: time.Minute},
	}, slog.LevelError)
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	api := &client.Client{URL: cl.URL, Token: cl.Token}
	admin := &client.Client{URL: cl.URL, Token: cl.AdminToken}
	if _, err := api.Deploy(ctx, "warm.yaml", []byte(wfYAML("warm", "testfn-ok", "- {name: only, function: f}"))); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Invoke(ctx, "warm", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := admin.Drain(ctx, "local-1", true); err != nil {
		t.Fatal(err)
	}
	if list, err := admin.Workers(ctx); err != nil || len(list) != 1 || list[0].State != "draining" {
		t.Fatalf("workers after drain = %+v, %v", list, err)
	}
	if _, err := api.Invoke(ctx, "warm", []byte(`{}`)); err != nil {
		t.Errorf("a warm sandbox on a draining worker stopped serving: %v", err)
	}
	if _, err := api.Deploy(ctx, "cold.yaml", []byte(wfYAML("cold", "testfn-ok", "- {name: only, function: f}"))); err != nil {
		t.Fatal(err)
	}
	_, err := api.Invoke(ctx, "cold", []byte(`{}`))
	wantStatus(t, "a cold start with every worker draining", err, http.StatusServiceUnavailable)
	if err := admin.Drain(ctx, "local-1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Invoke(ctx, "cold", []byte(`{}`)); err != nil {
		t.Errorf("cold start after undrain: %v", err)
	}
	err = admin.Drain(ctx, "nope", true)
	wantStatus(t, "draining an unknown worker", err, http.StatusNotFound)
}

// TestTenantKeysRotateRevokeAndRestart rotates and revokes keys on a whole
// Baton, the default tenant's (whose bootstrap key is in DATA/keys.json)
// included, and restarts it on the same data directory, passing the old
// default key as `baton up` would from its config: a replaced key gets 401
// on the very next request and after every restart, the keys issued last
// work, and the tenants' workflows and invocations stay.
func TestTenantKeysRotateRevokeAndRestart(t *testing.T) {
	ctx := context.Background()
	dataDir := shortTempDir(t)
	start := func(token, adminToken string) *standalone.Cluster {
		t.Helper()
		cl := startBaton(t, standalone.Config{
			DataDir: dataDir, Runtime: standalone.RuntimeProcess, Postgres: "off",
			Token: token, AdminToken: adminToken,
		}, slog.LevelWarn)
		t.Cleanup(func() { _ = cl.Stop(context.Background()) })
		return cl
	}
	cl := start("", "")
	bootDefault, adminKey := cl.Token, cl.AdminToken
	url := cl.URL
	restart := func() {
		t.Helper()
		if err := cl.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		cl = start(bootDefault, adminKey)
		url = cl.URL
	}
	as := func(key string) *client.Client { return &client.Client{URL: url, Token: key} }
	works := func(what, key string) {
		t.Helper()
		if _, err := as(key).Workflows(ctx); err != nil {
			t.Errorf("%s: %v, want it to work", what, err)
		}
	}
	fails := func(what, key string) {
		t.Helper()
		_, err := as(key).Workflows(ctx)
		wantStatus(t, what, err, http.StatusUnauthorized)
	}

	acme, err := as(adminKey).CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as(acme.Key).Deploy(ctx, "w.yaml", []byte(wfYAML("w", "testfn-ok", "- {name: only, function: f}"))); err != nil {
		t.Fatal(err)
	}
	res, err := as(acme.Key).Invoke(ctx, "w", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}

	// Only the admin may change keys, and only of a tenant that exists.
	for _, tc := range []struct {
		name, token, tenant string
		want                int
	}{
		{"no key", "", "acme", http.StatusUnauthorized},
		{"a tenant's key", acme.Key, "acme", http.StatusForbidden},
		{"the default tenant's key", bootDefault, "default", http.StatusForbidden},
		{"an unknown tenant", adminKey, "nobody", http.StatusNotFound},
	} {
		_, err := as(tc.token).RotateTenantKey(ctx, tc.tenant)
		wantStatus(t, "rotate-key with "+tc.name, err, tc.want)
		err = as(tc.token).RevokeTenantKeys(ctx, tc.tenant)
		wantStatus(t, "revoke with "+tc.name, err, tc.want)
	}
	_, err = as(adminKey).RotateTenantKey(ctx, "nobody")
	wantStatus(t, "rotate-key of an unknown tenant", err, http.StatusNotFound, `"nobody"`)

	// Rotation: the old key fails on the very next request.
	acme2, err := as(adminKey).RotateTenantKey(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	fails("acme's old key after a rotation", acme.Key)
	works("acme's new key", acme2.Key)
	if inv, err := as(acme2.Key).Invocation(ctx, res.InvocationID); err != nil || inv.Status != "succeeded" {
		t.Errorf("acme's invocation with its new key: %+v, %v", inv, err)
	}
	if _, err := as(acme2.Key).Invoke(ctx, "w", []byte(`{}`)); err != nil {
		t.Errorf("acme's workflow with its new key: %v", err)
	}

	// Revocation.
	beta, err := as(adminKey).CreateTenant(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if err := as(adminKey).RevokeTenantKeys(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	fails("beta's key after a revocation", beta.Key)

	// The default tenant's bootstrap key, from keys.json.
	default2, err := as(adminKey).RotateTenantKey(ctx, standalone.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	fails("the bootstrap default key after a rotation", bootDefault)
	works("the default tenant's new key", default2.Key)

	restart()
	fails("acme's old key after a restart", acme.Key)
	works("acme's rotated key after a restart", acme2.Key)
	fails("beta's revoked key after a restart", beta.Key)
	fails("the bootstrap default key after a restart", bootDefault)
	works("the default tenant's rotated key after a restart", default2.Key)
	if cl.Token != "" && cl.Token != bootDefault {
		t.Errorf("the restart made a new default key; its keys are the admin's to issue now")
	}
	if list, err := as(acme2.Key).Workflows(ctx); err != nil || len(list) != 1 {
		t.Errorf("acme's workflows after a rotation and a restart: %v, %v; want w", list, err)
	}

	// Revoking the default tenant too survives a restart; rotate-key
	// gives it a key again.
	if err := as(adminKey).RevokeTenantKeys(ctx, standalone.DefaultTenant); err != nil {
		t.Fatal(err)
	}
	fails("the default tenant's rotated key after a revocation", default2.Key)
	restart()
	fails("the default tenant's revoked key after a restart", default2.Key)
	fails("the bootstrap default key after a second restart", bootDefault)
	default3, err := as(adminKey).RotateTenantKey(ctx, standalone.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	works("the default tenant's key after a revocation and a rotation", default3.Key)
	beta2, err := as(adminKey).RotateTenantKey(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	works("beta's key after a revocation, a restart and a rotation", beta2.Key)
}

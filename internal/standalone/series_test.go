package standalone_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
)

// qosYAML is a two-stage workflow of testfn-ok with a QoS target.
func qosYAML(name string) []byte {
	return []byte(strings.Replace(wfYAML(name, "testfn-ok", "- {name: a, function: f}\n    - {name: b, function: f, needs: [a]}"),
		"spec:\n", "spec:\n  qos: {latency: 800ms, percentile: 95}\n", 1))
}

// twoTenants is Baton with history and two tenants, alpha and beta.
type twoTenants struct {
	cluster            *standalone.Cluster
	admin, alpha, beta *client.Client
}

// startTwoTenants starts Baton with history, creates tenants alpha and
// beta, and has alpha deploy workflow (qosYAML) and invoke it n times,
// all of them in history before it returns.
func startTwoTenants(t *testing.T, workflow string, n int) twoTenants {
	t.Helper()
	ctx := context.Background()
	cl := startProcessCluster(t, shortTempDir(t))
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	tt := twoTenants{cluster: cl, admin: &client.Client{URL: cl.URL, Token: cl.AdminToken}}
	for _, c := range []struct {
		name string
		to   **client.Client
	}{{"alpha", &tt.alpha}, {"beta", &tt.beta}} {
		view, err := tt.admin.CreateTenant(ctx, c.name)
		if err != nil {
			t.Fatal(err)
		}
		*c.to = &client.Client{URL: cl.URL, Token: view.Key}
	}
	if _, err := tt.alpha.Deploy(ctx, workflow+".yaml", qosYAML(workflow)); err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := tt.alpha.Invoke(ctx, workflow, []byte(`{"x":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	waitSeries(t, tt.alpha, workflow, "24h", "1h", n)
	return tt
}

// waitSeries polls a workflow's series until it counts want invocations
// (history is written off the invocation path).
func waitSeries(t *testing.T, c *client.Client, workflow, since, step string, want int) *api.Series {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := c.Series(context.Background(), workflow, since, step)
		if err != nil {
			t.Fatalf("series of %s: %v", workflow, err)
		}
		n := 0
		for _, b := range s.Buckets {
			n += b.Invocations
		}
		if n == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the series of %s counts %d invocations, want %d", workflow, n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSeriesOverTheAPI runs Baton with history, invokes a tenant's
// workflow, and reads GET /v1/reports/series: its buckets add up to the
// report's figures; another tenant, the admin key and bad parameters are
// refused, and no refusal names what the asker does not own.
func TestSeriesOverTheAPI(t *testing.T) {
	ctx := context.Background()
	const n = 6
	tt := startTwoTenants(t, "secret-pipeline", n)
	admin, alpha, beta := tt.admin, tt.alpha, tt.beta
	s := waitSeries(t, alpha, "secret-pipeline", "1h", "1m", n)
	if len(s.Buckets) < 60 || len(s.Buckets) > 61 || s.StepSeconds != 60 {
		t.Errorf("1h in steps of 1m: %d buckets of %gs", len(s.Buckets), s.StepSeconds)
	}
	if s.QoS == nil || s.QoS.TargetMs != 800 || s.QoS.Percentile != 95 {
		t.Errorf("series QoS %+v, want p95 <= 800ms", s.QoS)
	}
	rep, err := alpha.Reports(ctx, "secret-pipeline", "1h")
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Workflows[0].Figures
	var runs, cold int
	var exec float64
	for _, b := range s.Buckets {
		runs += b.StageRuns
		cold += b.ColdStarts
		exec += b.Cost.Execution
	}
	if runs != 2*n || f.Invocations != n || cold == 0 || float64(cold)/float64(runs) != f.ColdStartRate {
		t.Errorf("series: %d stage runs, %d cold; report: %d invocations, cold-start rate %g", runs, cold, f.Invocations, f.ColdStartRate)
	}
	if diff := exec - f.Cost.Execution; diff > 1e-12 || diff < -1e-12 {
		t.Errorf("series execution cost %g, report %g", exec, f.Cost.Execution)
	}
	if len(s.Functions) != 1 || s.Functions[0] != "f" {
		t.Errorf("series functions %v, want [f] (a warm pool)", s.Functions)
	}

	// Beta cannot see alpha's series, and is not told it exists.
	_, err = beta.Series(ctx, "secret-pipeline", "1h", "1m")
	if ce := wantStatus(t, "beta reads alpha's series", err, http.StatusNotFound, `workflow="secret-pipeline": workflow not found`); ce != nil && strings.Contains(ce.Message, "alpha") {
		t.Errorf("the refusal names alpha: %q", ce.Message)
	}
	_, err = admin.Series(ctx, "secret-pipeline", "1h", "1m")
	wantStatus(t, "the admin key on a tenant's series", err, http.StatusForbidden)
	_, err = alpha.Series(ctx, "no-such-workflow", "1h", "")
	wantStatus(t, "an unknown workflow", err, http.StatusNotFound, "no-such-workflow")
	for _, c := range []struct{ workflow, since, step, names string }{
		{"", "1h", "1m", "workflow"},
		{"secret-pipeline", "yesterday", "1m", "since="},
		{"secret-pipeline", "24h", "10s", "step="},
		{"secret-pipeline", "1h", "fast", "step="},
	} {
		_, err := alpha.Series(ctx, c.workflow, c.since, c.step)
		wantStatus(t, "series "+c.workflow+" since "+c.since+" step "+c.step, err, http.StatusBadRequest, c.names)
	}
}

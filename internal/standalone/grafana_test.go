package standalone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"baton.dev/baton/orchestrator/client"
)

// requireTool returns the path of a program the tests need from Debian's
// packages. Missing, it skips the test when the test runs outside make
// (go test by hand, the package not installed yet) and fails it under
// make, whose test target installs it first (make deps).
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("MAKELEVEL") != "" {
		t.Fatalf("%s is not installed, yet make ran its deps target, which installs Debian's %s package: see scripts/install-deps.sh", name, debianPackage)
	}
	t.Skipf("%s is not installed: run `make deps` (as root), which installs Debian's %s package", name, debianPackage)
	return ""
}

// getWithKey GETs url with a bearer key and returns the answer's body,
// failing the test on any status but 200.
func getWithKey(t *testing.T, url, key string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return body
}

// exposedNames are the names of the samples in a Prometheus text
// exposition (a histogram's as _bucket, _sum and _count).
func exposedNames(text []byte) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(string(text), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

var (
	promqlString    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promqlRange     = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlNumber    = regexp.MustCompile(`\b[0-9][0-9.]*[a-zA-Z]*`)
	promqlIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	promqlKeywords  = []string{"and", "or", "unless", "bool", "offset"}
	grafanaLabelsOf = regexp.MustCompile(`^label_values\((.*),\s*[a-zA-Z_]+\)$`)
)

// promqlMetricNames returns the metric names a PromQL expression (or a
// Grafana label_values(METRIC, LABEL) query) reads: what is left once
// strings, label matchers, ranges and groupings are cut, less functions
// (names followed by a parenthesis), numbers, durations and keywords.
func promqlMetricNames(expr string) []string {
	if m := grafanaLabelsOf.FindStringSubmatch(strings.TrimSpace(expr)); m != nil {
		expr = m[1]
	}
	for _, re := range []*regexp.Regexp{promqlString, promqlMatchers, promqlRange, promqlGrouping, promqlNumber} {
		expr = re.ReplaceAllString(expr, " ")
	}
	var names []string
	for _, tok := range promqlIdent.FindAllString(expr, -1) {
		name := strings.TrimSpace(tok)
		if strings.HasSuffix(tok, "(") || slices.Contains(promqlKeywords, name) || slices.Contains(names, name) {
			continue
		}
		names = append(names, name)
	}
	return names
}

// dashboardQueries returns every PromQL query in a Grafana dashboard: the
// panels' targets and the template variables' queries.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type == "query" {
			out = append(out, v.Definition)
		}
	}
	return out
}

// TestPromqlMetricNames checks the extraction the dashboard test relies
// on.
func TestPromqlMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`sum by (tenant, le) (rate(a_total{x=~"$t", y!="b c"}[$__rate_interval]))`, []string{"a_total"}},
		{`histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m]))) / on (x) group_left (y) b`, []string{"h_bucket", "b"}},
		{`a and bool c offset 5m`, []string{"a", "c"}},
		{`label_values(baton_invocations_total{tenant=~"$tenant"}, workflow)`, []string{"baton_invocations_total"}},
		{`go_goroutines`, []string{"go_goroutines"}},
	} {
		if got := promqlMetricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("promqlMetricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

// appearOnlyAfter are metrics the dashboard queries that a process-runtime
// Baton with room to spare never serves, with what makes them appear: the
// test checks only that the orchestrator defines them.
var appearOnlyAfter = map[string]string{
	"baton_image_pull_seconds_bucket": "a cold start that pulls its image from a registry (containerd runtime)",
	"baton_image_pull_bytes_bucket":   "a cold start that pulls its image from a registry (containerd runtime)",
	"baton_unplaceable_demand":        "a function's demand that no worker has room for",
}

// TestGrafanaDashboardQueriesBatonsMetrics runs Baton with history,
// invokes a two-stage workflow (one cold start), and checks that every
// metric grafana/baton.json queries is in the orchestrator's /metrics,
// and that /metrics passes `promtool check metrics`.
func TestGrafanaDashboardQueriesBatonsMetrics(t *testing.T) {
	ctx := context.Background()
	cl := startProcessCluster(t, shortTempDir(t))
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	c := &client.Client{URL: cl.URL, Token: cl.Token}
	if _, err := c.Deploy(ctx, "dash.yaml", qosYAML("dash")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Invoke(ctx, "dash", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	text := getWithKey(t, cl.URL+"/metrics", cl.AdminToken)
	exposed := exposedNames(text)
	source, err := os.ReadFile("../../orchestrator/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	queries := dashboardQueries(t, "../../grafana/baton.json")
	if len(queries) < 10 {
		t.Fatalf("grafana/baton.json has %d queries; want its panels'", len(queries))
	}
	checked := 0
	for _, q := range queries {
		names := promqlMetricNames(q)
		if len(names) == 0 {
			t.Errorf("query %q reads no metric", q)
		}
		for _, name := range names {
			checked++
			if exposed[name] {
				continue
			}
			event, rare := appearOnlyAfter[name]
			base := strings.TrimSuffix(name, "_bucket")
			if rare && bytes.Contains(source, []byte(`"`+base+`"`)) {
				t.Logf("%s appears only after %s; the orchestrator defines it", name, event)
				continue
			}
			t.Errorf("the dashboard queries %s (in %q), which /metrics does not serve", name, q)
		}
	}
	t.Logf("%d queries, %d metric references checked against /metrics", len(queries), checked)

	promtool := requireTool(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

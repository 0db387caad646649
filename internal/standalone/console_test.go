package standalone_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/scheduler/stats"
	"baton.dev/baton/workflow"
)

var consoleScreenshots = flag.String("console-screenshots", "", "folder for TestConsoleInABrowser's screenshots (default: baton-console-screenshots under the system's temporary directory, replaced at each run)")

// browser is one headless Chromium tab on the console.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the console's URL
	dir  string // screenshots
}

// run runs chromedp actions, failing the test with what was being done.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

// fail ends the test with what was being done and what the page says.
func (b *browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Text("#main"))
	at, _ := chromedp.Run(ctx, chromedp.Location())
	b.t.Fatalf("%s: %v (the page at %s says %q)", what, err, at, text)
}

// read runs one chromedp action that reads something from the page.
func read[T any](b *browser, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// page opens a console route and waits until its page says it is ready.
func (b *browser) page(route, ready string) {
	b.t.Helper()
	b.run("open "+route, chromedp.Navigate(b.base+"#"+route), chromedp.Reload(),
		chromedp.WaitVisible(`body[data-ready="`+ready+`"]`))
}

// screenshot writes the whole page to the screenshot folder.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png := read(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// drawn waits until each chart figure (by id) has drawn.
func (b *browser) drawn(ids ...string) {
	b.t.Helper()
	for _, id := range ids {
		b.run("chart "+id+" drawn", chromedp.WaitReady(`figure[id="`+id+`"][data-drawn="true"]`))
	}
}

// value reads a figure the page shows, as the API's number it was drawn
// from (the element's data-value).
func (b *browser) value(selector string) string {
	b.t.Helper()
	v := read(b, "read "+selector, chromedp.AttributeValue(selector, "data-value"))
	if !v.Exists {
		b.t.Fatalf("%s has no data-value", selector)
	}
	return v.Value
}

// signIn signs in on the sign-in page with key.
func (b *browser) signIn(key string) {
	b.t.Helper()
	b.run("sign in", chromedp.Navigate(b.base+"#/signin"), chromedp.WaitVisible("#key"),
		chromedp.SetValue("#key", key), chromedp.Click("#signin button[type=submit]"))
}

// window is the window the page shows, as query parameters.
func (b *browser) window() string {
	b.t.Helper()
	since := read(b, "the page's window", chromedp.AttributeValue("body", "data-since"))
	until := read(b, "the page's window", chromedp.AttributeValue("body", "data-until"))
	if !since.Exists || !until.Exists {
		b.t.Fatal("the page names no window (body data-since, data-until)")
	}
	return url.Values{"since": {since.Value}, "until": {until.Value}}.Encode()
}

// apiGet reads an API answer as c's tenant.
func apiGet[T any](t *testing.T, c *client.Client, path string) T {
	t.Helper()
	var out T
	if err := json.Unmarshal(getWithKey(t, c.URL+path, c.Token), &out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return out
}

// sameNumber says whether the text a page shows is the API's number.
func sameNumber(t *testing.T, what, shown string, want float64) {
	t.Helper()
	got, err := strconv.ParseFloat(shown, 64)
	if err != nil || got != want {
		t.Errorf("%s: the console shows %q, the API says %v", what, shown, want)
	}
}

// newBrowser starts a headless Chromium for the test.
func newBrowser(t *testing.T, base string) *browser {
	chromium := requireTool(t, "chromium", "chromium")
	dir := *consoleScreenshots
	if dir == "" {
		// One folder, the last run's: runs do not pile folders up.
		dir = filepath.Join(os.TempDir(), "baton-console-screenshots")
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The browser lives as long as the context of its first action: start
	// it on the test's, not on an action's own with a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base, dir: dir}
}

// badWorkflow has a stage that needs a stage the workflow lacks, on its
// line 11.
const badWorkflow = `apiVersion: baton.dev/v1
kind: Workflow
metadata:
  name: broken
spec:
  functions:
    f:
      image: baton.local/testfn-ok:v1
      resources: {cpu: 250m, memory: 64Mi}
  stages:
    - {name: a, function: f, needs: [nowhere]}
`

// TestConsoleInABrowser drives the console in headless Chromium against
// Baton with history: a wrong key is refused on the sign-in page; a
// tenant's workflows page, workflow page and invocation page draw their
// charts from the numbers the API gives; a bad workflow's problems show
// at their lines as `baton validate` words them, and a good one deploys
// and runs; another tenant cannot open the first one's pages, and is not
// told its names; a revoked key is sent back to sign in. It writes a
// screenshot of each page and logs the console's weight and its time to
// the first chart.
func TestConsoleInABrowser(t *testing.T) {
	ctx := context.Background()
	const n = 5
	tt := startTwoTenants(t, "hidden-pipeline", n)
	admin, alpha := tt.admin, tt.alpha
	cl := tt.cluster
	b := newBrowser(t, cl.URL+"/ui/")

	// A wrong key.
	b.signIn("bk_" + strings.Repeat("0", 64))
	b.run("the sign-in page refuses a wrong key", chromedp.WaitVisible(`#signin-message.error`))
	msg := read(b, "read the refusal", chromedp.Text("#signin-message"))
	if !strings.Contains(msg, "not valid") {
		t.Errorf("sign-in with a wrong key says %q", msg)
	}
	b.screenshot("1-signin-wrong-key")

	// Workflows: the table's figures are the report's, the sparklines drew.
	start := time.Now()
	b.signIn(alpha.Token)
	b.run("the workflows page", chromedp.WaitVisible(`body[data-ready="workflows"]`))
	b.drawn("spark-qos-hidden-pipeline", "spark-violations-hidden-pipeline", "spark-cost-hidden-pipeline", "spark-cold-hidden-pipeline")
	t.Logf("sign-in to the workflows page's charts: %s", time.Since(start).Round(time.Millisecond))
	window := b.window()
	rep := apiGet[api.ReportResponse](t, alpha, "/v1/reports?workflow=hidden-pipeline&"+window)
	f := rep.Workflows[0].Figures
	row := `tr[data-workflow="hidden-pipeline"] `
	sameNumber(t, "invocations", b.value(row+`td[data-field="invocations"]`), float64(f.Invocations))
	sameNumber(t, "violation rate", b.value(row+`td[data-field="violationRate"]`), f.QoS.ViolationRate)
	sameNumber(t, "cost per invocation", b.value(row+`td[data-field="costPerInvocation"]`), f.Cost.PerInvocation)
	sameNumber(t, "cold-start rate", b.value(row+`td[data-field="coldStartRate"]`), f.ColdStartRate)
	sameNumber(t, "QoS percentile's latency", b.value(row+`td[data-field="achievedMs"]`), float64(f.QoS.AchievedMs))
	b.screenshot("2-workflows")

	// A new revision: a second configuration change, with the n
	// invocations before it.
	if _, err := alpha.Deploy(ctx, "hidden-pipeline.yaml", qosYAML("hidden-pipeline")); err != nil {
		t.Fatal(err)
	}
	changes := waitChanges(t, alpha, "hidden-pipeline", 2, n)

	// One workflow: every chart drew, and the latency chart's data are
	// the series'.
	b.page("/workflow/hidden-pipeline", "workflow")
	b.drawn("chart-latency", "chart-violations", "chart-cost", "chart-cold", "chart-pool", "chart-stages")
	firstChart := read(b, "time to the first chart", chromedp.AttributeValue("body", "data-first-chart-ms")).Value
	window = b.window()
	series := apiGet[api.Series](t, alpha, "/v1/reports/series?workflow=hidden-pipeline&step=5m&"+window)
	f = apiGet[api.ReportResponse](t, alpha, "/v1/reports?workflow=hidden-pipeline&"+window).Workflows[0].Figures
	drawn := read(b, "read the latency chart's data", chromedp.Evaluate[[]*float64](`document.getElementById('chart-latency').uplot.data[1]`))
	compareSeries(t, &series, drawn)
	rows := read(b, "count the data table's rows", chromedp.Evaluate[int](`document.querySelectorAll('#chart-latency table.data tbody tr').length`))
	if rows != len(series.Buckets) {
		t.Errorf("the latency chart's table has %d rows, the series %d buckets", rows, len(series.Buckets))
	}
	sameNumber(t, "workflow page: cost per invocation", b.value(`#summary td[data-field="costPerInvocation"]`), f.Cost.PerInvocation)
	sameNumber(t, "workflow page: violation rate", b.value(`#summary td[data-field="violationRate"]`), f.QoS.ViolationRate)
	compareChanges(t, b, changes)
	b.screenshot("3-workflow")
	type pageWeight struct{ Transfer, Decoded, Resources float64 }
	weight := read(b, "page weight", chromedp.Evaluate[pageWeight](`(() => {
		const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource').filter((r) => r.name.includes('/ui/'))];
		return {Transfer: all.reduce((s, r) => s + r.transferSize, 0), Decoded: all.reduce((s, r) => s + r.decodedBodySize, 0), Resources: all.length};
	})()`))
	firstMs, _ := strconv.ParseFloat(firstChart, 64)
	t.Logf("console page weight: %.0f files, %.1f KiB transferred (%.1f KiB decoded); first chart drawn %.0f ms after the page loaded",
		weight.Resources, weight.Transfer/1024, weight.Decoded/1024, firstMs)

	// One invocation: the timeline drew, the latency is the API's.
	invs, err := alpha.Invocations(ctx, "hidden-pipeline", 1)
	if err != nil || len(invs) == 0 {
		t.Fatalf("alpha's invocations: %v, %v", invs, err)
	}
	b.page("/invocation/"+invs[0].ID, "invocation")
	b.drawn("chart-timeline")
	inv, err := alpha.Invocation(ctx, invs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	sameNumber(t, "invocation latency", b.value(`td[data-field="latencyMs"]`), inv.LatencyMs)
	if inv.InputBytes == nil || inv.OutputBytes == nil || *inv.InputBytes == 0 || *inv.OutputBytes == 0 {
		t.Errorf("the invocation API gives sizes %v in, %v out; want both known and above 0", inv.InputBytes, inv.OutputBytes)
	} else {
		sameNumber(t, "invocation input size", b.value(`td[data-field="inputBytes"]`), float64(*inv.InputBytes))
		sameNumber(t, "invocation output size", b.value(`td[data-field="outputBytes"]`), float64(*inv.OutputBytes))
	}
	stageRows := read(b, "count the timeline's rows", chromedp.Evaluate[int](`document.querySelectorAll('#chart-timeline .bar-row').length`))
	if stageRows != len(inv.Stages) {
		t.Errorf("the timeline has %d stages, the invocation %d", stageRows, len(inv.Stages))
	}
	b.screenshot("4-invocation")

	// Deploy: a bad workflow's problems at their lines, as baton validate
	// says them; then a good one, deployed and invoked.
	_, perr := workflow.Parse("console.yaml", []byte(badWorkflow))
	var problems *workflow.Problems
	if !errors.As(perr, &problems) || len(*problems) == 0 {
		t.Fatalf("the bad workflow parses: %v", perr)
	}
	b.page("/deploy", "deploy")
	b.run("deploy a bad workflow", chromedp.SetValue("#yaml", badWorkflow), chromedp.Click("#deploy"),
		chromedp.WaitVisible("#problems li"))
	shown := read(b, "read the problems", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#problems li')].map((li) => li.textContent)`))
	var want []string
	for _, p := range *problems {
		want = append(want, p.Error())
	}
	if strings.Join(shown, "\n") != strings.Join(want, "\n") {
		t.Errorf("the console shows the problems\n%s\nbaton validate says\n%s", strings.Join(shown, "\n"), strings.Join(want, "\n"))
	}
	line := (*problems)[0].Line
	marked := read(b, "find the marked line", chromedp.Evaluate[int](`+(document.querySelector('#source li.bad') || {dataset: {line: 0}}).dataset.line`))
	if marked != line || line == 0 {
		t.Errorf("the source marks line %d, the problem is at line %d", marked, line)
	}
	b.screenshot("5-deploy-problems")
	good := strings.Replace(strings.Replace(badWorkflow, "needs: [nowhere]", "needs: []", 1), "name: broken", "name: fresh", 1)
	b.run("deploy a good workflow and invoke it", chromedp.SetValue("#yaml", good), chromedp.Click("#deploy"),
		chromedp.WaitVisible("#deployed"), chromedp.Click("#invoke"), chromedp.WaitVisible("#invocation-link"))
	id := read(b, "read the invocation", chromedp.Text("#invocation-link"))
	if got, err := alpha.Invocation(ctx, id); err != nil || got.Workflow != "fresh" || got.Status != api.StatusSucceeded {
		t.Errorf("the console's invocation %q: %+v, %v", id, got, err)
	}
	b.screenshot("6-deploy-invoked")

	// Beta: none of alpha's pages, and no name of alpha's.
	b.run("sign out", chromedp.Click("#signout"))
	b.signIn(tt.beta.Token)
	b.run("beta's workflows page", chromedp.WaitVisible(`body[data-ready="workflows"]`))
	for _, route := range []struct{ route, ready string }{
		{"/workflows", "workflows"}, {"/workflow/hidden-pipeline", "workflow"}, {"/invocation/" + invs[0].ID, "invocation"},
	} {
		b.page(route.route, route.ready)
		text := read(b, "read "+route.route, chromedp.Text("#main"))
		if strings.Contains(text, "alpha") || (route.route == "/workflows" && strings.Contains(text, "hidden-pipeline")) {
			t.Errorf("beta's %s shows alpha's things: %q", route.route, text)
		}
		if route.route != "/workflows" && !strings.Contains(text, "not found") {
			t.Errorf("beta's %s: %q, want a not-found", route.route, text)
		}
	}
	b.screenshot("7-other-tenant")

	// A revoked key goes back to sign in, which says why.
	if err := admin.RevokeTenantKeys(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	b.run("beta's key revoked", chromedp.Navigate(b.base+"#/workflows"), chromedp.WaitVisible(`#signin-message.error`))
	msg = read(b, "read the sign-in page", chromedp.Text("#signin-message"))
	if !strings.Contains(msg, "rotated or revoked") {
		t.Errorf("after revocation the sign-in page says %q", msg)
	}
	b.signIn(tt.beta.Token)
	b.run("sign in with the revoked key", chromedp.WaitVisible(`#signin-message.error`), chromedp.Sleep(200*time.Millisecond))
	msg = read(b, "read the sign-in page", chromedp.Text("#signin-message"))
	if !strings.Contains(msg, "not valid") {
		t.Errorf("signing in with a revoked key says %q", msg)
	}
	b.screenshot("8-revoked")
}

// compareChanges checks that the workflow page's configuration history
// lists the API's settled changes, newest first, with the API's figures
// before and after each (empty where the API has none).
func compareChanges(t *testing.T, b *browser, h *api.ConfigurationHistory) {
	t.Helper()
	ids := read(b, "the configuration history's rows", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#configuration-history tbody tr')].map((tr) => tr.dataset.change)`))
	var want []string
	for _, c := range h.Changes {
		if api.Settled(c.Kind) {
			want = append(want, c.ID)
		}
	}
	if strings.Join(ids, ",") != strings.Join(want, ",") || len(want) == 0 {
		t.Fatalf("the configuration history shows changes %v, the API %v", ids, want)
	}
	shownOrEmpty := func(selector string, want *float64) {
		got := b.value(selector)
		if want == nil {
			if got != "" {
				t.Errorf("%s shows %q, the API has none", selector, got)
			}
			return
		}
		sameNumber(t, selector, got, *want)
	}
	ms := func(m *stats.Ms) *float64 {
		if m == nil {
			return nil
		}
		v := float64(*m)
		return &v
	}
	for _, c := range h.Changes {
		row := `#configuration-history tr[data-change="` + c.ID + `"] `
		if kind := read(b, "read a change's kind", chromedp.Text(row+`td[data-field="kind"]`)); kind != c.Kind {
			t.Errorf("change %s shows kind %q, the API %q", c.ID, kind, c.Kind)
		}
		for side, w := range map[string]*api.ChangeWindow{"before": c.Before, "after": c.After} {
			var inv, cost, p *float64
			if w != nil {
				n := float64(w.Invocations)
				inv, cost, p = &n, w.ExecutionCostPerInvocation, ms(w.PercentileMs)
			}
			shownOrEmpty(row+`span[data-field="`+side+`Invocations"]`, inv)
			shownOrEmpty(row+`span[data-field="`+side+`ExecutionCostPerInvocation"]`, cost)
			shownOrEmpty(row+`span[data-field="`+side+`PercentileMs"]`, p)
		}
	}
	if last := h.Changes[0]; last.Before == nil || last.Before.Invocations == 0 {
		t.Errorf("the newest change has no invocations before it: %+v", last.Before)
	}
}

// compareSeries checks that the latency chart's first line is the
// series' latency at the QoS percentile, bucket by bucket (null where the
// bucket is empty or the rank falls on a failure).
func compareSeries(t *testing.T, s *api.Series, drawn []*float64) {
	t.Helper()
	if len(drawn) != len(s.Buckets) {
		t.Fatalf("the latency chart has %d points, the series %d buckets", len(drawn), len(s.Buckets))
	}
	points := 0
	for i, bkt := range s.Buckets {
		var want *float64
		if bkt.QoSMs != nil && !isInf(float64(*bkt.QoSMs)) {
			v := float64(*bkt.QoSMs)
			want = &v
		}
		switch {
		case (want == nil) != (drawn[i] == nil):
			t.Errorf("bucket %d: the chart has %s, the series %s", i, show(drawn[i]), show(want))
		case want != nil && *want != *drawn[i]:
			t.Errorf("bucket %d: the chart has %v, the series %v", i, *drawn[i], *want)
		case want != nil:
			points++
		}
	}
	if points == 0 {
		t.Errorf("the latency chart drew no point")
	}
}

func isInf(f float64) bool { return f > 1e308 }

func show(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

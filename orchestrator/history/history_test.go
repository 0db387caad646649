package history_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/stats"
)

func open(t *testing.T, url string, cfg history.WriterConfig) (*history.History, context.CancelFunc) {
	t.Helper()
	h, err := history.Open(context.Background(), url, scheduler.DefaultPrices(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx, 5*time.Second); close(done) }()
	stop := func() { cancel(); <-done; h.Close() }
	t.Cleanup(stop)
	return h, func() { cancel(); <-done }
}

// waitWritten waits until the writer has nothing pending.
func waitWritten(t *testing.T, h *history.History, timeout time.Duration) history.Stats {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := h.Stats()
		if st.Pending == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("history still has %d records pending after %s (last error %q)", st.Pending, timeout, st.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func near(a, b float64) bool {
	if math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

// TestReportMatchesAHandComputedExpectation writes a known set of
// invocations, stage runs and sandbox events, and checks every figure of
// the report against a computation by hand.
func TestReportMatchesAHandComputedExpectation(t *testing.T) {
	srv := testenv.Postgres(t)
	h, _ := open(t, srv.URL(), history.WriterConfig{})
	ctx := context.Background()
	since := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	until := since.Add(time.Hour)
	prices := scheduler.DefaultPrices()
	const cpu, mem = 1000, 1 << 30 // one core, one GiB
	runCost := prices.Cost(cpu, mem, 40*time.Millisecond)

	add := func(tenant, id string, start time.Time, latencyMs float64, status string, cold bool, execMs float64) {
		h.Add(history.Invocation{
			ID: id, Tenant: tenant, Workflow: "wf", Revision: 1, Status: status,
			Start: start, End: start.Add(time.Duration(latencyMs * float64(time.Millisecond))), LatencyMs: latencyMs,
			QoSLatencyMs: 100, QoSPercentile: 50, Cost: runCost,
		}, history.StageRun{
			InvocationID: id, Stage: "a", Tenant: tenant, Workflow: "wf", Function: "fa",
			Start: start, End: start.Add(40 * time.Millisecond), Calls: 1, Attempts: 1,
			QueuedMs: 10, ExecMs: execMs, Cold: cold, CPUMilli: cpu, MemoryBytes: mem, Cost: runCost,
		})
	}
	add("t1", "i1", since.Add(1*time.Second), 50, "succeeded", true, 40)
	add("t1", "i2", since.Add(2*time.Second), 80, "succeeded", false, 10)
	add("t1", "i3", since.Add(3*time.Second), 120, "succeeded", false, 30)
	add("t1", "i4", since.Add(4*time.Second), 30, "failed", false, 20)
	add("t1", "i0", since.Add(-time.Minute), 9999, "succeeded", false, 1) // before the window
	add("t2", "j1", since.Add(5*time.Second), 7777, "succeeded", true, 1) // another tenant
	// One sandbox of t1's wf warm for 10 s inside the window; one of t2's.
	for _, ev := range []history.SandboxEvent{
		{ID: "e1", Sandbox: "sb1", Event: history.SandboxReady, At: since, Tenant: "t1", Workflow: "wf", Function: "fa", CPUMilli: cpu, MemoryBytes: mem, TotalMs: 300},
		{ID: "e2", Sandbox: "sb1", Event: history.SandboxDeleted, At: since.Add(10 * time.Second), Tenant: "t1", Workflow: "wf", Function: "fa", CPUMilli: cpu, MemoryBytes: mem},
		{ID: "e3", Sandbox: "sb2", Event: history.SandboxReady, At: since, Tenant: "t2", Workflow: "wf", Function: "fa", CPUMilli: cpu, MemoryBytes: mem},
	} {
		h.Add(ev)
	}
	waitWritten(t, h, 30*time.Second)

	reports, err := h.Report(ctx, history.ReportQuery{Tenant: "t1", Since: since, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 {
		t.Fatalf("got %d reports, want 1: %+v", len(reports), reports)
	}
	r := reports[0]
	// Latencies in the window, ranked as package stats ranks them (the
	// failure slower than any success): 50, 80, 120, +Inf. Nearest rank:
	// p50 is the 2nd (80), p95 and p99 the 4th (the failure). The stage's
	// execution times, 10, 20, 30, 40: p50 the 2nd, p95 the 4th.
	lifetime := prices.Cost(cpu, mem, 10*time.Second)
	exec := 4 * runCost
	checks := []struct {
		name      string
		got, want float64
	}{
		{"invocations", float64(r.Invocations), 4},
		{"errors", float64(r.Errors), 1},
		{"p50", float64(r.LatencyMs.P50), 80},
		{"p95", float64(r.LatencyMs.P95), math.Inf(1)},
		{"p99", float64(r.LatencyMs.P99), math.Inf(1)},
		{"qos target", r.QoS.TargetMs, 100},
		{"qos achieved (p50)", float64(r.QoS.AchievedMs), 80},
		{"violation rate (failed + 120ms)", r.QoS.ViolationRate, 0.5},
		{"execution cost", r.Cost.Execution, exec},
		{"idle cost", r.Cost.Idle, lifetime - exec},
		{"total cost", r.Cost.Total, lifetime},
		{"cost per invocation", r.Cost.PerInvocation, lifetime / 4},
		{"cold-start rate", r.ColdStartRate, 0.25},
		{"stages", float64(len(r.Stages)), 1},
		{"stage runs", float64(r.Stages[0].Runs), 4},
		{"stage exec p50", r.Stages[0].ExecP50Ms, 20},
		{"stage exec p95", r.Stages[0].ExecP95Ms, 40},
		{"stage queued mean", r.Stages[0].QueuedMeanMs, 10},
		{"stage cost", r.Stages[0].Cost, exec},
		{"stage cost per invocation", r.Stages[0].CostPerInvocation, runCost},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !r.QoS.Met {
		t.Errorf("QoS met = false with p50 80ms against 100ms")
	}

	// Scoping: t2 sees only its own invocation and timeline.
	if _, _, err := h.Timeline(ctx, "t2", "i1"); err == nil {
		t.Errorf("tenant t2 read t1's invocation i1")
	}
	inv, stages, err := h.Timeline(ctx, "t1", "i3")
	if err != nil || inv.LatencyMs != 120 || len(stages) != 1 || stages[0].Function != "fa" {
		t.Errorf("timeline of i3 = %+v %+v, %v", inv, stages, err)
	}
	list, err := h.Invocations(ctx, "t2", "", 10)
	if err != nil || len(list) != 1 || list[0].ID != "j1" {
		t.Errorf("t2's invocations = %+v, %v; want only j1", list, err)
	}
}

// TestReportPercentilesAreTheStatsPackages writes windows whose
// percentiles sit on rounding edges (the p95 of 20 values is the 19th:
// 0.95*20 is 19.000000000000004 in floating point) and checks that the
// report, which Postgres computes, gives what package stats gives for the
// same latencies, failures included.
func TestReportPercentilesAreTheStatsPackages(t *testing.T) {
	srv := testenv.Postgres(t)
	h, _ := open(t, srv.URL(), history.WriterConfig{})
	ctx := context.Background()
	since := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	windows := []struct {
		workflow  string
		successes []float64
		failures  int
	}{
		{"twenty", []float64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0},
		{"hundred-two-failed", func() []float64 {
			var xs []float64
			for i := range 98 {
				xs = append(xs, float64(1000-i))
			}
			return xs
		}(), 2},
		{"one", []float64{42}, 0},
		{"all-failed", nil, 3},
	}
	n := 0
	for _, w := range windows {
		add := func(latency float64, status string) {
			n++
			start := since.Add(time.Duration(n) * time.Millisecond)
			h.Add(history.Invocation{ID: fmt.Sprintf("%s-%d", w.workflow, n), Tenant: "t", Workflow: w.workflow, Revision: 1,
				Status: status, Start: start, End: start.Add(time.Millisecond), LatencyMs: latency, QoSLatencyMs: 500, QoSPercentile: 99})
		}
		for _, l := range w.successes {
			add(l, "succeeded")
		}
		for range w.failures {
			add(1, "failed") // fast, but a failure ranks above every success
		}
	}
	waitWritten(t, h, 30*time.Second)
	reports, err := h.Report(ctx, history.ReportQuery{Tenant: "t", Since: since, Until: since.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]api.Figures{}
	for _, r := range reports {
		got[r.Workflow] = r
	}
	for _, w := range windows {
		r, ok := got[w.workflow]
		if !ok {
			t.Errorf("no report for %s", w.workflow)
			continue
		}
		all := stats.WithFailures(w.successes, w.failures)
		for _, c := range []struct {
			p   float64
			got stats.Ms
		}{{50, r.LatencyMs.P50}, {95, r.LatencyMs.P95}, {99, r.LatencyMs.P99}, {99, r.QoS.AchievedMs}} {
			if want := stats.Percentile(all, c.p); float64(c.got) != want {
				t.Errorf("%s: p%g = %v, package stats says %v", w.workflow, c.p, c.got, want)
			}
		}
	}
	if r := got["twenty"]; r.LatencyMs.P95 != 19 {
		t.Errorf("p95 of 1..20 = %v, want the 19th value", r.LatencyMs.P95)
	}
	if r := got["hundred-two-failed"]; !math.IsInf(float64(r.LatencyMs.P99), 1) || r.QoS.Met {
		t.Errorf("two failures in 100: p99 %v, QoS met %v; want +Inf and missed", r.LatencyMs.P99, r.QoS.Met)
	}
}

// TestOutageLosesNothingWithinTheBuffer stops Postgres, adds records,
// starts it again, and finds every record written; past the buffer,
// records are dropped and counted, but for a configuration change, which
// has a room of its own.
func TestOutageLosesNothingWithinTheBuffer(t *testing.T) {
	srv := testenv.Postgres(t)
	ctx := context.Background()
	h, _ := open(t, srv.URL(), history.WriterConfig{Buffer: 300, Batch: 50, Flush: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	start := time.Now().Add(-time.Minute)
	inv := func(i int) history.Invocation {
		return history.Invocation{ID: fmt.Sprintf("o%d", i), Tenant: "t", Workflow: "wf", Status: "succeeded",
			Start: start.Add(time.Duration(i) * time.Millisecond), End: start.Add(time.Second), LatencyMs: 1}
	}
	h.Add(inv(0))
	waitWritten(t, h, 30*time.Second) // the schema is in place

	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 350; i++ {
		h.Add(inv(i))
	}
	h.Add(history.ConfigurationChange{ID: "c1", Tenant: "t", Workflow: "wf", At: start.Add(time.Second), Kind: api.ChangeTune, Revision: 1,
		After: map[string]api.Resources{"f": {CPUMilli: 500, MemoryBytes: 128 << 20}}})
	time.Sleep(500 * time.Millisecond) // some failed writes
	st := h.Stats()
	if st.Pending != 301 || st.Dropped != 50 || st.Failures == 0 {
		t.Fatalf("during the outage: %+v; want 301 pending (the change beyond the full buffer), 50 dropped, failures > 0", st)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	st = waitWritten(t, h, 30*time.Second)
	if st.Written != 302 || st.Dropped != 50 {
		t.Errorf("after the outage: %+v; want 302 written, 50 dropped", st)
	}
	n, err := h.Count(ctx, "t", "wf", start.Add(-time.Hour), time.Now())
	if err != nil || n != 301 {
		t.Errorf("invocations in Postgres = %d, %v; want 301", n, err)
	}
	changes, err := h.ConfigurationHistory(ctx, history.ConfigurationQuery{Tenant: "t", Workflow: "wf", Window: time.Hour, Limit: 10})
	if err != nil || len(changes) != 1 || changes[0].ID != "c1" {
		t.Errorf("configuration changes in Postgres = %+v, %v; want c1, added when the buffer was full", changes, err)
	}
}

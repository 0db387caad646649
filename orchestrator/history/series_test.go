package history_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler"
)

// seriesInvocation is an invocation a series case writes: at an offset
// from the window's start, with a latency (a failure when failed), its
// one stage run cold or warm.
type seriesInvocation struct {
	at        time.Duration
	latencyMs float64
	failed    bool
	cold      bool
}

// wantBucket is what a case expects of one bucket; nil pointers are
// figures that must be null.
type wantBucket struct {
	invocations, errors int
	p50, p95, p99       *float64 // +Inf for a failure's rank
	qos, violations     *float64
	coldRate            *float64
	pool                float64 // the mean warm pool of function f
}

func f64(v float64) *float64 { return &v }

// TestSeriesBuckets writes each case's invocations (under a tenant of its
// own, beside the same workflow name under another tenant) into a real
// Postgres and checks every bucket of the series: empty buckets, a bucket
// with one invocation, rows at a bucket's edges, percentiles by nearest
// rank with failures ranked last, violations, cold starts, and a warm
// sandbox's life cut by the buckets it spans.
func TestSeriesBuckets(t *testing.T) {
	srv := testenv.Postgres(t)
	h, _ := open(t, srv.URL(), history.WriterConfig{})
	ctx := context.Background()
	since := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	const step = time.Minute
	inf := math.Inf(1)
	one := func(x float64) (p50, p95, p99 *float64) { return f64(x), f64(x), f64(x) }
	p50a, p95a, p99a := one(70)
	p50b, p95b, p99b := one(inf)
	cases := []struct {
		name    string
		buckets int
		qos     float64 // target ms at p95; 0: none
		invs    []seriesInvocation
		// sandbox is the life of one warm sandbox of f, [ready, deleted)
		// from the window's start (deleted 0: still alive).
		sandbox [2]time.Duration
		want    []wantBucket
	}{{
		name: "empty window", buckets: 3, qos: 100,
		want: []wantBucket{{}, {}, {}},
	}, {
		name: "one invocation in the middle bucket", buckets: 3, qos: 100,
		invs: []seriesInvocation{{at: 90 * time.Second, latencyMs: 70, cold: true}},
		want: []wantBucket{{}, {invocations: 1, p50: p50a, p95: p95a, p99: p99a, qos: f64(70), violations: f64(0), coldRate: f64(1)}, {}},
	}, {
		name: "one failed invocation", buckets: 1, qos: 100,
		invs: []seriesInvocation{{at: 0, latencyMs: 5, failed: true}},
		want: []wantBucket{{invocations: 1, errors: 1, p50: p50b, p95: p95b, p99: p99b, qos: f64(inf), violations: f64(1), coldRate: f64(0)}},
	}, {
		name: "edges: the window's start is in, a step's end starts the next bucket, until is out", buckets: 2,
		invs: []seriesInvocation{
			{at: 0, latencyMs: 10},
			{at: step - time.Microsecond, latencyMs: 20},
			{at: step, latencyMs: 30},
			{at: 2*step - time.Microsecond, latencyMs: 40},
			{at: 2 * step, latencyMs: 999}, // at until: outside
			{at: -time.Microsecond, latencyMs: 999},
		},
		want: []wantBucket{
			{invocations: 2, p50: f64(10), p95: f64(20), p99: f64(20), coldRate: f64(0)},
			{invocations: 2, p50: f64(30), p95: f64(40), p99: f64(40), coldRate: f64(0)},
		},
	}, {
		name: "nearest rank per bucket: 1..20 then 1..100 with two failed", buckets: 2, qos: 15,
		invs: func() []seriesInvocation {
			var out []seriesInvocation
			for i := 20; i >= 1; i-- {
				out = append(out, seriesInvocation{at: time.Duration(i) * time.Second, latencyMs: float64(i)})
			}
			for i := 1; i <= 100; i++ {
				out = append(out, seriesInvocation{at: step + time.Duration(i)*100*time.Millisecond, latencyMs: float64(i), failed: i > 98, cold: i <= 25})
			}
			return out
		}(),
		want: []wantBucket{
			// p95 of 20 is the 19th (0.95*20 is 19.000000000000004 in
			// floating point); 5 of 20 above 15 ms.
			{invocations: 20, p50: f64(10), p95: f64(19), p99: f64(20), qos: f64(19), violations: f64(0.25), coldRate: f64(0)},
			// 98 successes then 2 failures: p99 is the 99th, a failure;
			// 85 above 15 ms or failed.
			{invocations: 100, errors: 2, p50: f64(50), p95: f64(95), p99: f64(inf), qos: f64(95), violations: f64(0.85), coldRate: f64(0.25)},
		},
	}, {
		name: "a warm sandbox from 30s to 150s", buckets: 3,
		sandbox: [2]time.Duration{30 * time.Second, 150 * time.Second},
		want:    []wantBucket{{pool: 0.5}, {pool: 1}, {pool: 0.5}},
	}, {
		name: "a sandbox ready before the window and never deleted", buckets: 2,
		sandbox: [2]time.Duration{-time.Hour, 0},
		want:    []wantBucket{{pool: 1}, {pool: 1}},
	}}

	prices := scheduler.DefaultPrices()
	const cpu, mem = 500, 1 << 29
	for i, c := range cases {
		tenant := fmt.Sprintf("t%d", i)
		for j, inv := range c.invs {
			status := "succeeded"
			if inv.failed {
				status = "failed"
			}
			start := since.Add(inv.at)
			id := fmt.Sprintf("%s-%d", tenant, j)
			for _, tn := range []string{tenant, "other-" + tenant} { // the same workflow name, another tenant
				h.Add(history.Invocation{ID: tn + id, Tenant: tn, Workflow: "wf", Revision: 1, Status: status,
					Start: start, End: start.Add(time.Millisecond), LatencyMs: inv.latencyMs, QoSLatencyMs: c.qos, QoSPercentile: 95,
					Cost: 1e-6},
					history.StageRun{InvocationID: tn + id, Stage: "a", Tenant: tn, Workflow: "wf", Function: "f",
						Start: start, End: start.Add(time.Millisecond), Calls: 1, Attempts: 1, ExecMs: 1, Cold: inv.cold,
						CPUMilli: cpu, MemoryBytes: mem, Cost: 1e-6})
			}
		}
		if life := c.sandbox; life != [2]time.Duration{} {
			h.Add(history.SandboxEvent{ID: tenant + "-ready", Sandbox: tenant + "-sb", Event: history.SandboxReady, At: since.Add(life[0]),
				Tenant: tenant, Workflow: "wf", Function: "f", CPUMilli: cpu, MemoryBytes: mem})
			if life[1] != 0 {
				h.Add(history.SandboxEvent{ID: tenant + "-deleted", Sandbox: tenant + "-sb", Event: history.SandboxDeleted, At: since.Add(life[1]),
					Tenant: tenant, Workflow: "wf", Function: "f", CPUMilli: cpu, MemoryBytes: mem})
			}
		}
	}
	waitWritten(t, h, 30*time.Second)

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := history.SeriesQuery{Tenant: fmt.Sprintf("t%d", i), Workflow: "wf", Since: since, Until: since.Add(time.Duration(c.buckets) * step), Step: step}
			s, err := h.Series(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Buckets) != len(c.want) {
				t.Fatalf("%d buckets, want %d", len(s.Buckets), len(c.want))
			}
			if (s.QoS != nil) != (c.qos > 0 && len(c.invs) > 0) {
				t.Errorf("QoS target %+v, want one only when the invocations had %g ms", s.QoS, c.qos)
			}
			for b, want := range c.want {
				got := s.Buckets[b]
				if start := since.Add(time.Duration(b) * step); !got.Start.Equal(start) {
					t.Errorf("bucket %d starts %s, want %s", b, got.Start, start)
				}
				checkBucket(t, b, got, want, prices.Cost(cpu, mem, time.Duration(want.pool*float64(step))))
			}
		})
	}
}

func checkBucket(t *testing.T, b int, got api.SeriesBucket, want wantBucket, lifetimeCost float64) {
	t.Helper()
	if got.Invocations != want.invocations || got.Errors != want.errors {
		t.Errorf("bucket %d: %d invocations, %d errors; want %d, %d", b, got.Invocations, got.Errors, want.invocations, want.errors)
	}
	var p50, p95, p99 *float64
	if got.LatencyMs != nil {
		p50, p95, p99 = f64(float64(got.LatencyMs.P50)), f64(float64(got.LatencyMs.P95)), f64(float64(got.LatencyMs.P99))
	}
	var qos *float64
	if got.QoSMs != nil {
		qos = f64(float64(*got.QoSMs))
	}
	for _, c := range []struct {
		name      string
		got, want *float64
	}{
		{"p50", p50, want.p50}, {"p95", p95, want.p95}, {"p99", p99, want.p99},
		{"latency at the QoS percentile", qos, want.qos}, {"violation rate", got.ViolationRate, want.violations},
		{"cold-start rate", got.ColdStartRate, want.coldRate},
	} {
		switch {
		case (c.got == nil) != (c.want == nil):
			t.Errorf("bucket %d: %s = %v, want %v (nil is null)", b, c.name, deref(c.got), deref(c.want))
		case c.got != nil && !near(*c.got, *c.want):
			t.Errorf("bucket %d: %s = %v, want %v", b, c.name, *c.got, *c.want)
		}
	}
	if !near(got.WarmPool["f"], want.pool) {
		t.Errorf("bucket %d: warm pool of f = %v, want %v", b, got.WarmPool["f"], want.pool)
	}
	exec := float64(want.invocations) * 1e-6
	if !near(got.Cost.Execution, exec) || !near(got.Cost.Idle, max(0, lifetimeCost-exec)) {
		t.Errorf("bucket %d: cost %+v, want execution %v, idle %v", b, got.Cost, exec, max(0, lifetimeCost-exec))
	}
	if (got.Cost.PerInvocation == nil) != (want.invocations == 0) {
		t.Errorf("bucket %d: cost per invocation %v with %d invocations", b, deref(got.Cost.PerInvocation), want.invocations)
	}
}

func deref(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// TestSeriesRefusesBadQueries checks that a query with no bucket, too
// many, or a step finer than Postgres keeps time is refused before
// Postgres is asked (there is none here).
func TestSeriesRefusesBadQueries(t *testing.T) {
	h, err := history.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none", scheduler.DefaultPrices(), history.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	since := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		q    history.SeriesQuery
		want string
	}{
		{"no step", history.SeriesQuery{Since: since, Until: since.Add(time.Hour)}, "is empty"},
		{"empty window", history.SeriesQuery{Since: since, Until: since, Step: time.Minute}, "is empty"},
		{"too many buckets", history.SeriesQuery{Since: since, Until: since.Add(24 * time.Hour), Step: time.Second}, "86400 buckets, more than 2000"},
		{"sub-microsecond step", history.SeriesQuery{Since: since, Until: since.Add(time.Second), Step: time.Millisecond + 1}, "microseconds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.Series(context.Background(), c.q)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Series(%+v) = %v, want an error saying %q", c.q, err, c.want)
			}
		})
	}
}

package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler/stats"
)

// TestSeriesTable checks `baton report --series`' table: a line per
// bucket, "-" for an empty bucket's figures, "failed" for a percentile
// whose rank falls on a failure.
func TestSeriesTable(t *testing.T) {
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	rate, cost := 0.5, 1.25e-6
	s := &api.Series{History: "on", Workflow: "wf", Since: start, Until: start.Add(10 * time.Minute), StepSeconds: 300,
		QoS: &api.QoSTarget{TargetMs: 800, Percentile: 95},
		Buckets: []api.SeriesBucket{
			{Start: start},
			{Start: start.Add(5 * time.Minute), Invocations: 2, Errors: 1,
				LatencyMs: &api.Latency{P50: 12.5, P95: stats.Ms(math.Inf(1)), P99: stats.Ms(math.Inf(1))},
				QoSMs:     ptrTo(stats.Ms(math.Inf(1))), ViolationRate: &rate, ColdStartRate: &rate,
				Cost: api.SeriesCost{ExecutionPerInvocation: &cost, IdlePerInvocation: &cost}},
		}}
	var b strings.Builder
	if err := (seriesTable{s}).WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[1], "QoS: p95 <= 800 ms") || !strings.Contains(lines[2], "P95(ms)") {
		t.Fatalf("table:\n%s", b.String())
	}
	for i, want := range []string{"0 0 - - - - - - -", "2 1 12.5 failed failed 50.0% 0.00000125 0.00000125 50.0%"} {
		// The start's date and time are local; the figures follow them.
		if got := strings.Join(strings.Fields(lines[3+i])[2:], " "); got != want {
			t.Errorf("bucket %d: %q, want %q", i, got, want)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

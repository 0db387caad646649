package orchestrator

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestParseSeries checks GET /v1/reports/series' query: the window, the
// step and its default, the window's start rounded down to a step, and
// for each bad parameter an error that names it.
func TestParseSeries(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 7, 30, 0, time.UTC)
	for _, c := range []struct {
		query       string
		since       time.Time
		step        time.Duration
		buckets     int
		wantErr     string // a part of the error; "" for none
		wantErrName string // the parameter the error must name
	}{
		{query: "workflow=w&since=24h&step=5m", since: time.Date(2026, 11, 1, 9, 5, 0, 0, time.UTC), step: 5 * time.Minute, buckets: 289},
		{query: "workflow=w", since: time.Date(2026, 11, 1, 9, 5, 0, 0, time.UTC), step: 5 * time.Minute, buckets: 289},
		{query: "workflow=w&since=1h", since: time.Date(2026, 11, 2, 8, 7, 30, 0, time.UTC), step: 13 * time.Second, buckets: 277},
		{query: "workflow=w&since=2026-11-02T09:00:00Z&step=1m", since: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), step: time.Minute, buckets: 8},
		{query: "workflow=w&since=24h&step=1m", since: time.Date(2026, 11, 1, 9, 7, 0, 0, time.UTC), step: time.Minute, buckets: 1441},
		{query: "since=24h", wantErr: "is missing", wantErrName: "workflow"},
		{query: "workflow=w&since=yesterday", wantErr: "want a positive duration like 24h", wantErrName: "since="},
		{query: "workflow=w&since=-1h", wantErrName: "since="},
		{query: "workflow=w&until=noon", wantErrName: "until="},
		{query: "workflow=w&step=5", wantErr: "want a positive duration", wantErrName: "step="},
		{query: "workflow=w&step=-5m", wantErrName: "step="},
		{query: "workflow=w&step=500ms", wantErr: "at least 1s", wantErrName: "step="},
		{query: "workflow=w&step=1500ms", wantErr: "whole seconds", wantErrName: "step="},
		{query: "workflow=w&since=24h&step=30s", wantErr: "step=30s: makes 2880 buckets over the 24h0m0s window, more than 2000; use step=44s", wantErrName: "step="},
		{query: "workflow=w&since=720h&step=5m", wantErr: "use step=21m37s or more", wantErrName: "step="},
	} {
		t.Run(c.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/reports/series?"+c.query, nil)
			q, err := parseSeries(r, "acme", now)
			if c.wantErrName != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), c.wantErrName) {
					t.Fatalf("got %+v, %v; want an error naming %q and saying %q", q, err, c.wantErrName, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.Tenant != "acme" || q.Workflow != "w" || !q.Since.Equal(c.since) || !q.Until.Equal(now) || q.Step != c.step || q.Buckets() != c.buckets {
				t.Errorf("got %s..%s step %s, %d buckets; want %s..%s step %s, %d buckets",
					q.Since, q.Until, q.Step, q.Buckets(), c.since, now, c.step, c.buckets)
			}
		})
	}
}

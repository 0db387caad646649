package orchestrator

import (
	"fmt"
	"net/http"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
)

// defaultSeriesBuckets is how many buckets a series has when the request
// names no step: 288 is 5 minutes over a day.
const defaultSeriesBuckets = 288

// parseSeries reads GET /v1/reports/series' query: workflow (required),
// since and until (as for /v1/reports) and step (a duration of at least
// a second, with at most api.MaxSeriesBuckets buckets in the window;
// default: the window over 288, rounded up to a second). The window's
// start is rounded down to a multiple of the step. Each error names its
// parameter.
func parseSeries(r *http.Request, tenant string, now time.Time) (history.SeriesQuery, error) {
	q := history.SeriesQuery{Tenant: tenant, Workflow: r.URL.Query().Get("workflow")}
	if q.Workflow == "" {
		return q, fmt.Errorf("query parameter workflow is missing: name the workflow to plot, as in ?workflow=ml-pipeline&since=24h&step=5m")
	}
	since, until, err := parseWindow(r, now)
	if err != nil {
		return q, err
	}
	window := until.Sub(since)
	q.Step = (window/defaultSeriesBuckets + time.Second - 1).Truncate(time.Second)
	if s := r.URL.Query().Get("step"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return q, fmt.Errorf("query parameter step=%q: want a positive duration like 5m", s)
		}
		if d < time.Second || d%time.Second != 0 {
			return q, fmt.Errorf("query parameter step=%q: want whole seconds, at least 1s", s)
		}
		q.Step = d
	}
	q.Since, q.Until = history.SeriesWindow(since, q.Step), until
	if n := q.Buckets(); n > api.MaxSeriesBuckets {
		least := (q.Until.Sub(q.Since)/api.MaxSeriesBuckets + time.Second).Truncate(time.Second)
		return q, fmt.Errorf("query parameter step=%s: makes %d buckets over the %s window, more than %d; use step=%s or more, or a shorter since",
			q.Step.String(), n, window, api.MaxSeriesBuckets, least)
	}
	return q, nil
}

// handleSeries answers GET /v1/reports/series: one of the tenant's
// workflows (deployed, or with history) in time buckets.
func (o *Orchestrator) handleSeries(w http.ResponseWriter, r *http.Request) {
	q, err := parseSeries(r, tenantOf(r), time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !o.knownWorkflow(w, r, q.Tenant, q.Workflow, fmt.Sprintf("query parameter workflow=%q", q.Workflow), "series") {
		return
	}
	if o.cfg.History == nil {
		writeJSON(w, http.StatusOK, api.Series{History: "off", Workflow: q.Workflow, Since: q.Since, Until: q.Until, StepSeconds: q.Step.Seconds(),
			Functions: []string{}, Buckets: []api.SeriesBucket{},
			Message: historyOff + ", so there is no series to plot"})
		return
	}
	s, err := o.cfg.History.Series(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("series: %v", err))
		return
	}
	s.Dropped = o.cfg.History.Stats().Dropped
	writeJSON(w, http.StatusOK, s)
}

// historyOff says why an orchestrator has no history.
const historyOff = "history is off: this orchestrator runs without Postgres (start it with --postgres URL, or install the Postgres server binaries for `baton up`)"

// knownWorkflow answers 404 (or 503 when history cannot say) unless the
// tenant's workflow is deployed or has history, and reports whether it
// is known. The answer is the same whether another tenant has a workflow
// of that name or none does: the asker learns nothing of other tenants.
// named says where the name came from (a parameter), what what is
// asked for, both for the messages.
func (o *Orchestrator) knownWorkflow(w http.ResponseWriter, r *http.Request, tenant, name, named, what string) bool {
	if _, deployed := o.registry.Get(tenant, name); deployed {
		return true
	}
	if o.cfg.History != nil {
		known, err := o.cfg.History.Exists(r.Context(), tenant, name)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%s: %v", what, err))
			return false
		}
		if known {
			return true
		}
	}
	writeError(w, http.StatusNotFound, named+": workflow not found (it is not deployed and has no history)")
	return false
}

package orchestrator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
)

func (o *Orchestrator) handleGetConfiguration(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	d, ok := o.registry.Get(tenantOf(r), name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("workflow %q not found", name))
		return
	}
	writeJSON(w, http.StatusOK, api.ConfigurationView{Workflow: name, Functions: configuration(d), Chosen: d.Chosen})
}

// handlePutConfiguration applies a choice for the workflow's auto
// resources: {"functions": {"fn": {"cpuMilli": 500, "memoryBytes": ...}},
// "policy": "aquatope", "reason": "..."}.
func (o *Orchestrator) handlePutConfiguration(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	body, ok := readBody(w, r, 64<<10, "the configuration")
	if !ok {
		return
	}
	var c api.Choice
	if err := decodeStrict(body, &c); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("configuration: %v", err))
		return
	}
	if c.Policy == "" {
		c.Policy = "manual"
	}
	c.At = time.Time{} // the orchestrator stamps it
	d, err := o.Choose(r.Context(), tenantOf(r), name, c)
	var de *DeployError
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("workflow %q not found", name))
		return
	case errors.As(err, &de):
		writeError(w, de.Status, fmt.Sprintf("configuration of %s: %s", name, de.Msg))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, api.ConfigurationView{Workflow: name, Functions: configuration(d), Chosen: d.Chosen})
}

// handleSample records a tuner's measurement in history (off the path of
// any invocation); without history it is accepted and dropped, and said so.
func (o *Orchestrator) handleSample(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if _, ok := o.registry.Get(tenantOf(r), name); !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("workflow %q not found", name))
		return
	}
	body, ok := readBody(w, r, 64<<10, "the sample")
	if !ok {
		return
	}
	var s api.SampleRequest
	if err := decodeStrict(body, &s); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("sample: %v", err))
		return
	}
	if !(s.LatencyMs >= 0) || !(s.CostUSD >= 0) {
		writeError(w, http.StatusBadRequest, "sample: latencyMs and costUsd must be numbers >= 0")
		return
	}
	if o.cfg.History == nil {
		writeJSON(w, http.StatusAccepted, map[string]string{"history": "off", "message": "history is off: the sample is not kept"})
		return
	}
	cfg, _ := json.Marshal(s.Functions)
	o.cfg.History.Add(history.Sample{ID: newEventID(), Tenant: tenantOf(r), Workflow: name, At: time.Now(), Config: cfg, LatencyMs: s.LatencyMs, Cost: s.CostUSD})
	writeJSON(w, http.StatusAccepted, map[string]string{"history": "on"})
}

// defaultChangeWindow and defaultChanges are GET
// /v1/workflows/{name}/configurations' window and limit when the request
// names none.
const (
	defaultChangeWindow = time.Hour
	defaultChanges      = 50
)

// parseConfigurationQuery reads GET /v1/workflows/{name}/configurations'
// query: window (a duration from 1s to 7 days, default 1h) and limit (1
// to api.MaxConfigurationChanges, default 50). Each error names its
// parameter.
func parseConfigurationQuery(r *http.Request, q *history.ConfigurationQuery) error {
	q.Window, q.Limit = defaultChangeWindow, defaultChanges
	if s := r.URL.Query().Get("window"); s != "" {
		d, err := api.ParseChangeWindow(s)
		if err != nil {
			return fmt.Errorf("query parameter window=%w", err)
		}
		q.Window = d
	}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err == nil {
			err = api.CheckChangeLimit(n)
		}
		if err != nil {
			return fmt.Errorf("query parameter limit=%q: want a whole number from 1 to %d", s, api.MaxConfigurationChanges)
		}
		q.Limit = n
	}
	return nil
}

// handleConfigurations answers GET /v1/workflows/{name}/configurations:
// the configuration history of one of the tenant's workflows (deployed,
// or with history), newest first, with the invocations before and after
// each change.
func (o *Orchestrator) handleConfigurations(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	q := history.ConfigurationQuery{Tenant: tenantOf(r), Workflow: name, Percentile: 95, Until: time.Now()}
	if err := parseConfigurationQuery(r, &q); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !o.knownWorkflow(w, r, q.Tenant, name, fmt.Sprintf("workflow %q", name), "configuration history") {
		return
	}
	if d, ok := o.registry.Get(q.Tenant, name); ok && d.Workflow.Spec.QoS.Latency > 0 {
		q.Percentile = d.Workflow.Spec.QoS.Percentile
	}
	out := api.ConfigurationHistory{History: "on", Workflow: name, Percentile: q.Percentile, WindowSeconds: q.Window.Seconds(), Changes: []api.ConfigurationChange{}}
	if o.cfg.History == nil {
		out.History, out.Message = "off", historyOff+", so configuration changes are not kept"
		writeJSON(w, http.StatusOK, out)
		return
	}
	changes, err := o.cfg.History.ConfigurationHistory(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("configuration history: %v", err))
		return
	}
	if changes != nil {
		out.Changes = changes
	}
	out.Dropped = o.cfg.History.Stats().Dropped
	writeJSON(w, http.StatusOK, out)
}

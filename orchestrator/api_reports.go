package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
)

func configuration(d *Deployment) []api.FunctionChoice {
	var out []api.FunctionChoice
	for _, fc := range d.Functions() {
		name := fc.Key[strings.LastIndexByte(fc.Key, '/')+1:]
		f := d.Workflow.Spec.Functions[name]
		c := api.FunctionChoice{Function: name, CPUMilli: fc.CPUMilli, MemoryBytes: fc.MemoryBytes, ChosenBy: "fixed", Detail: "as the workflow gives it"}
		if f.Resources.CPU.Auto || f.Resources.Memory.Auto {
			c.ChosenBy, c.Detail = "default", "auto resources start at their upper bounds until the scheduler tunes them"
			if _, chosen := d.resources(name); chosen {
				c.ChosenBy = "scheduler"
				c.Detail = fmt.Sprintf("%s at %s: %s", d.Chosen.Policy, d.Chosen.At.Format(time.RFC3339), d.Chosen.Reason)
			}
		}
		out = append(out, c)
	}
	return out
}

// parseWindow reads ?since= (a duration back from now, like 24h, or an
// RFC 3339 time; default 24h) and ?until= (RFC 3339; default now).
func parseWindow(r *http.Request, now time.Time) (time.Time, time.Time, error) {
	until := now
	if s := r.URL.Query().Get("until"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("query parameter until=%q: want an RFC 3339 time like 2026-11-23T09:00:00Z", s)
		}
		until = t
	}
	since := until.Add(-24 * time.Hour)
	if s := r.URL.Query().Get("since"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			since = until.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			since = t
		} else {
			return time.Time{}, time.Time{}, fmt.Errorf("query parameter since=%q: want a positive duration like 24h or an RFC 3339 time", s)
		}
	}
	if !since.Before(until) {
		return time.Time{}, time.Time{}, fmt.Errorf("the window since %s until %s is empty", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	return since, until, nil
}

func (o *Orchestrator) handleReports(w http.ResponseWriter, r *http.Request) {
	tenant, only := tenantOf(r), r.URL.Query().Get("workflow")
	since, until, err := parseWindow(r, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp := api.ReportResponse{History: "on", Since: since, Until: until, Workflows: []api.WorkflowReport{}}
	byName := map[string]*api.WorkflowReport{}
	for _, d := range o.registry.List(tenant) {
		if only == "" || d.Name == only {
			resp.Workflows = append(resp.Workflows, api.WorkflowReport{Name: d.Name, Configuration: configuration(d)})
		}
	}
	if only != "" && len(resp.Workflows) == 0 {
		resp.Workflows = append(resp.Workflows, api.WorkflowReport{Name: only}) // deleted, but it may have history
	}
	if o.cfg.History == nil {
		resp.History = "off"
		resp.Message = "history is off: this orchestrator runs without Postgres (start it with --postgres URL, or install the Postgres server binaries for `baton up`), so there are no figures to report"
		writeJSON(w, http.StatusOK, resp)
		return
	}
	resp.Dropped = o.cfg.History.Stats().Dropped
	figures, err := o.cfg.History.Report(r.Context(), history.ReportQuery{Tenant: tenant, Workflow: only, Since: since, Until: until})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("reports: %v", err))
		return
	}
	for i := range resp.Workflows {
		byName[resp.Workflows[i].Name] = &resp.Workflows[i]
	}
	for i := range figures {
		f := &figures[i]
		if wr, ok := byName[f.Workflow]; ok {
			wr.Figures = f
		} else {
			resp.Workflows = append(resp.Workflows, api.WorkflowReport{Name: f.Workflow, Figures: f})
		}
	}
	for i := range resp.Workflows {
		if resp.Workflows[i].Figures == nil {
			resp.Workflows[i].Figures = &api.Figures{Workflow: resp.Workflows[i].Name, Since: since, Until: until, Stages: []api.StageReport{}}
		}
	}
	sort.Slice(resp.Workflows, func(i, j int) bool { return resp.Workflows[i].Name < resp.Workflows[j].Name })
	writeJSON(w, http.StatusOK, resp)
}

// handleInvocations lists the tenant's latest invocations: from history
// when it is on, else from memory.
func (o *Orchestrator) handleInvocations(w http.ResponseWriter, r *http.Request) {
	tenant, wf := tenantOf(r), r.URL.Query().Get("workflow")
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("query parameter limit=%q: want a number from 1 to 1000", s))
			return
		}
		limit = n
	}
	out := []*api.Invocation{}
	seen := map[string]bool{}
	for _, inv := range o.invocations.List(tenant, wf, limit) {
		out = append(out, inv)
		seen[inv.ID] = true
	}
	if o.cfg.History != nil && len(out) < limit {
		rows, err := o.cfg.History.Invocations(r.Context(), tenant, wf, limit)
		if err != nil && len(out) == 0 {
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("invocations: %v", err))
			return
		}
		for _, row := range rows {
			if !seen[row.ID] && len(out) < limit {
				out = append(out, fromHistory(&row, nil))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	writeJSON(w, http.StatusOK, map[string]any{"invocations": out})
}

func (o *Orchestrator) handleInvocation(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if inv, ok := o.invocations.Get(tenantOf(r), id); ok {
		writeJSON(w, http.StatusOK, inv)
		return
	}
	if inv, ok, err := o.asyncQ.result(r.Context(), tenantOf(r), id); err != nil {
		o.log.Warn("read a stored async invocation", "id", id, "err", err)
	} else if ok {
		writeJSON(w, http.StatusOK, inv)
		return
	}
	if o.cfg.History != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		row, stages, err := o.cfg.History.Timeline(ctx, tenantOf(r), id)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, fromHistory(row, stages))
			return
		case !errors.Is(err, history.ErrNotFound):
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("invocation %q is not in memory and history cannot be read: %v", id, err))
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("invocation %q not found", id))
}

// fromHistory rebuilds an invocation record (without its output, which
// history does not keep) from its rows.
func fromHistory(row *history.Invocation, stages []history.StageRun) *api.Invocation {
	inv := &api.Invocation{
		ID: row.ID, Tenant: row.Tenant, Workflow: row.Workflow, Async: row.Async, Status: row.Status,
		Start: row.Start, End: row.End, LatencyMs: row.LatencyMs, Error: row.Error, Stage: row.FailedStage,
		ColdStarts: row.ColdStarts, Cost: row.Cost, Revision: row.Revision, Stages: []api.StageTiming{},
		InputBytes: row.InputBytes, OutputBytes: row.OutputBytes,
	}
	for _, s := range stages {
		inv.Stages = append(inv.Stages, api.StageTiming{
			Stage: s.Stage, Function: s.Function, Start: s.Start, End: s.End, Calls: s.Calls, Attempts: s.Attempts,
			QueuedMs: s.QueuedMs, ExecMs: s.ExecMs, Cold: s.Cold, Sandbox: s.Sandbox, Worker: s.Worker,
			CPUMilli: s.CPUMilli, Memory: s.MemoryBytes, Cost: s.Cost, Error: s.Error,
		})
	}
	return inv
}

func (o *Orchestrator) handleCreateTenant(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, 4096, "the tenant request")
	if !ok {
		return
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("tenant request: %v (want {\"name\": \"...\"})", err))
		return
	}
	t, key, err := o.CreateTenant(r.Context(), req.Name)
	switch {
	case errors.Is(err, ErrTenantExists):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil && CheckTenantName(req.Name) != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, api.TenantView{Name: t.Name, Created: t.Created, Keys: len(t.Keys), Key: key})
}

func (o *Orchestrator) handleListTenants(w http.ResponseWriter, _ *http.Request) {
	out := []api.TenantView{}
	for _, t := range o.registry.Tenants() {
		out = append(out, tenantView(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
}

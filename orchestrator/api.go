package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/console"
	"baton.dev/baton/workflow"
)

type ctxKey int

const principalKey ctxKey = 0

// Handler returns the HTTP API.
func (o *Orchestrator) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "workers": o.workers.Live(time.Now())})
	})
	// /metrics names every tenant and workflow with their volumes: the
	// operator's, behind the admin key (Prometheus sends it with
	// authorization.credentials_file).
	r.With(o.authenticate, requireAdmin).Handle("/metrics", promhttp.HandlerFor(o.metrics.reg, promhttp.HandlerOpts{}))
	// The console: static files; its pages call /v1 with the user's key.
	r.Handle("/ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	r.Handle("/ui/*", console.Handler("/ui"))
	r.Route("/v1", func(r chi.Router) {
		r.Use(o.authenticate)
		r.Group(func(r chi.Router) {
			r.Use(requireTenant)
			r.Post("/workflows", o.handleDeploy)
			r.Get("/workflows", o.handleList)
			r.Get("/workflows/{name}", o.handleGet)
			r.Delete("/workflows/{name}", o.handleDelete)
			r.Post("/workflows/{name}/invoke", o.handleInvoke)
			r.Get("/workflows/{name}/configuration", o.handleGetConfiguration)
			r.Put("/workflows/{name}/configuration", o.handlePutConfiguration)
			r.Get("/workflows/{name}/configurations", o.handleConfigurations)
			r.Post("/workflows/{name}/samples", o.handleSample)
			r.Get("/invocations", o.handleInvocations)
			r.Get("/invocations/{id}", o.handleInvocation)
			r.Get("/reports", o.handleReports)
			r.Get("/reports/series", o.handleSeries)
			r.Get("/registries", o.handleListRegistries)
			r.Put("/registries/{host}", o.handlePutRegistry)
			r.Delete("/registries/{host}", o.handleDeleteRegistry)
		})
		r.Group(func(r chi.Router) {
			r.Use(requireAdmin)
			r.Post("/tenants", o.handleCreateTenant)
			r.Get("/tenants", o.handleListTenants)
			r.Post("/tenants/{name}/keys", o.handleRotateTenantKey)
			r.Delete("/tenants/{name}/keys", o.handleRevokeTenantKeys)
			r.Put("/tenants/{name}/quota", o.handleSetTenantQuota)
			r.Get("/workers", o.handleListWorkers)
			r.Post("/workers/{id}/drain", o.handleDrain(true))
			r.Post("/workers/{id}/undrain", o.handleDrain(false))
		})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
	})
	return r
}

func (o *Orchestrator) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		key, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="baton"`)
			writeError(w, http.StatusUnauthorized, "missing API key: send the header 'Authorization: Bearer <key>'")
			return
		}
		who, ok := o.cfg.Keys.Lookup(key)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="baton", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "the API key in the Authorization header is not valid")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, who)))
	})
}

// requireTenant admits tenants' keys: the admin key owns no workflows.
func requireTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if principalOf(r).Admin {
			writeError(w, http.StatusForbidden, "the admin key manages tenants; use a tenant's key for workflows, invocations and reports")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireAdmin admits the admin key only.
func requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !principalOf(r).Admin {
			writeError(w, http.StatusForbidden, "this needs the cluster's admin key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func principalOf(r *http.Request) Principal { return r.Context().Value(principalKey).(Principal) }

func tenantOf(r *http.Request) string { return principalOf(r).Tenant }

// readBody reads at most limit bytes; a larger body gets 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, what string) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is larger than the limit of %d bytes", what, limit))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("read %s: %v", what, err))
		return nil, false
	}
	return body, true
}

func summarize(d *Deployment, withSource bool) api.WorkflowSummary {
	s := api.WorkflowSummary{
		Name: d.Name, Revision: d.Revision, Deployed: d.Deployed,
		Invoke: "/v1/workflows/" + d.Name + "/invoke",
	}
	for _, st := range d.Workflow.Spec.Stages {
		s.Stages = append(s.Stages, st.Name)
	}
	for _, fc := range d.Functions() {
		name := fc.Key[strings.LastIndexByte(fc.Key, '/')+1:]
		s.Functions = append(s.Functions, name)
		iv := api.ImageView{Function: name, Image: d.Workflow.Spec.Functions[name].Image}
		if p, ok := d.Images[name]; ok {
			iv.Digest, iv.Pinned = p.Digest, p.Pinned
		}
		s.Images = append(s.Images, iv)
	}
	if q := d.Workflow.Spec.QoS; q.Latency > 0 {
		s.QoS = &api.QoSView{LatencyMs: ms(q.Latency), Percentile: q.Percentile}
	}
	if withSource {
		s.Source = d.Source
	}
	return s
}

func (o *Orchestrator) handleDeploy(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, workflow.MaxDocumentBytes, "the workflow document")
	if !ok {
		return
	}
	name := r.URL.Query().Get("filename")
	if name == "" {
		name = "request body"
	}
	d, created, err := o.Deploy(r.Context(), tenantOf(r), name, body)
	if err != nil {
		var de *DeployError
		if errors.As(err, &de) {
			writeJSON(w, de.Status, api.ErrorBody{Error: de.Msg, Problems: de.Problems})
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/v1/workflows/"+d.Name)
	writeJSON(w, status, summarize(d, false))
}

func (o *Orchestrator) handleList(w http.ResponseWriter, r *http.Request) {
	list := o.registry.List(tenantOf(r))
	out := make([]api.WorkflowSummary, 0, len(list))
	for _, d := range list {
		out = append(out, summarize(d, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflows": out})
}

func (o *Orchestrator) handleGet(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	d, ok := o.registry.Get(tenantOf(r), name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("workflow %q not found", name))
		return
	}
	writeJSON(w, http.StatusOK, summarize(d, true))
}

func (o *Orchestrator) handleDelete(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	found, err := o.Undeploy(r.Context(), tenantOf(r), name)
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	case !found:
		writeError(w, http.StatusNotFound, fmt.Sprintf("workflow %q not found", name))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func wantsAsync(r *http.Request) (bool, error) {
	switch mode := r.URL.Query().Get("mode"); mode {
	case "async":
		return true, nil
	case "", "sync":
	default:
		return false, fmt.Errorf("query parameter mode=%q: want sync or async", mode)
	}
	for _, p := range r.Header.Values("Prefer") {
		if strings.Contains(p, "respond-async") {
			return true, nil
		}
	}
	return false, nil
}

func (o *Orchestrator) handleInvoke(w http.ResponseWriter, r *http.Request) {
	tenant, name := tenantOf(r), chi.URLParam(r, "name")
	d, ok := o.registry.Get(tenant, name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("workflow %q not found", name))
		return
	}
	async, err := wantsAsync(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	input, ok := readBody(w, r, o.cfg.MaxInputBytes, "the invocation body")
	if !ok {
		return
	}
	if err := o.admitInvocation(tenant, time.Now()); err != nil {
		writeFailure(w, err, api.ErrorBody{Error: err.Error()})
		return
	}
	inv := &api.Invocation{ID: newInvocationID(), Tenant: tenant, Workflow: name, Async: async, Status: api.StatusRunning, Start: time.Now()}
	w.Header().Set("Baton-Invocation-Id", inv.ID)
	if async {
		inv.Status = api.StatusAccepted
		if err := o.asyncQ.accept(r.Context(), asyncRequest{ID: inv.ID, Tenant: tenant, Workflow: name, Input: input, Accepted: inv.Start}); err != nil {
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the invocation was not accepted: %v; retry later", err))
			return
		}
		// The invocation may already be running, or finished, elsewhere:
		// neither record may go back to "accepted".
		o.invocations.PutIfAbsent(inv)
		if err := o.asyncQ.putAccepted(r.Context(), inv); err != nil {
			// The stream holds the invocation; only its status before it
			// runs is not durable.
			o.log.Warn("record an accepted invocation's status", "id", inv.ID, "err", err)
		}
		url := "/v1/invocations/" + inv.ID
		w.Header().Set("Location", url)
		writeJSON(w, http.StatusAccepted, map[string]string{"invocationId": inv.ID, "status": api.StatusAccepted, "statusUrl": url})
		return
	}
	done, err := o.execute(r.Context(), d, inv, input)
	w.Header().Set("Server-Timing", serverTiming(done))
	w.Header().Set("Baton-Cold-Starts", fmt.Sprint(done.ColdStarts))
	w.Header().Set("Baton-Cost", strconv.FormatFloat(done.Cost, 'g', 6, 64))
	if err != nil {
		writeFailure(w, err, api.ErrorBody{
			Error: fmt.Sprintf("workflow %q failed: %v", name, err), InvocationID: done.ID, Stage: done.Stage,
		})
		return
	}
	if json.Valid(done.Output) {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(done.Output)
}

// serverTiming renders an invocation's breakdown as a Server-Timing header:
// the total, then per stage its queueing and execution, with a "cold" or
// "warm" description.
func serverTiming(inv *api.Invocation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "total;dur=%.3f", inv.LatencyMs)
	for _, s := range inv.Stages {
		temp := "warm"
		if s.Cold {
			temp = "cold"
		}
		fmt.Fprintf(&b, ", queue-%s;dur=%.3f;desc=%q, exec-%s;dur=%.3f", s.Stage, s.QueuedMs, temp, s.Stage, s.ExecMs)
		if s.ColdStart != nil && s.ColdStart.Pull > 0 {
			// Part of the queueing: the call waited for its image.
			fmt.Fprintf(&b, ", pull-%s;dur=%.3f", s.Stage, float64(s.ColdStart.Pull)/float64(time.Millisecond))
		}
	}
	return b.String()
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may have gone; nothing to do
}

// writeFailure answers a failed invocation with the status its error
// maps to; a refusal over a quota or an overloaded queue says when to
// retry (Retry-After, whole seconds, at least 1).
func writeFailure(w http.ResponseWriter, err error, body api.ErrorBody) {
	var ra retryAfter
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(ra.retryIn().Seconds())))))
	}
	writeJSON(w, failureStatus(err), body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.ErrorBody{Error: msg})
}

func (o *Orchestrator) handleListWorkers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"workers": o.workers.Views(time.Now())})
}

// handleDrain stops (or resumes) placing sandboxes on a worker; the
// sandboxes it runs keep serving until the autoscaler retires them.
func (o *Orchestrator) handleDrain(drain bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		if !o.workers.Known(id) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("worker %q not found", id))
			return
		}
		// Durable first: a drain outlives a failover and the worker's
		// restart.
		if err := o.registry.SetDrained(r.Context(), id, drain); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		o.workers.Drain(id, drain)
		w.WriteHeader(http.StatusNoContent)
	}
}

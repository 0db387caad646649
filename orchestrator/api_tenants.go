package orchestrator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler/decide"
)

// handleRotateTenantKey is POST /v1/tenants/{name}/keys: a new key for the
// tenant, shown in this answer only; every previous key of the tenant
// stops working at once.
func (o *Orchestrator) handleRotateTenantKey(w http.ResponseWriter, r *http.Request) {
	t, key, err := o.RotateTenantKey(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		writeTenantError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.TenantView{Name: t.Name, Created: t.Created, Keys: len(t.Keys), Key: key})
}

// handleRevokeTenantKeys is DELETE /v1/tenants/{name}/keys: every key of
// the tenant stops working at once; its workflows and history stay.
func (o *Orchestrator) handleRevokeTenantKeys(w http.ResponseWriter, r *http.Request) {
	if _, err := o.RevokeTenantKeys(r.Context(), chi.URLParam(r, "name")); err != nil {
		writeTenantError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeTenantError answers a failed change to a tenant's keys.
func writeTenantError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrTenantNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrTenantChanged):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// handleSetTenantQuota is PUT /v1/tenants/{name}/quota: the tenant's
// quota, whole (a bound left out is none), effective at once.
func (o *Orchestrator) handleSetTenantQuota(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, 4<<10, "the quota")
	if !ok {
		return
	}
	var q api.Quota
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("quota: %v (want {\"sandboxes\", \"cpuMilli\", \"memoryBytes\", \"invocationsPerSecond\", \"burst\"})", err))
		return
	}
	t, err := o.SetTenantQuota(r.Context(), chi.URLParam(r, "name"), decide.Quota(q))
	switch {
	case errors.Is(err, ErrQuotaInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrQuotaTooSmall):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	case err != nil:
		writeTenantError(w, err)
	default:
		writeJSON(w, http.StatusOK, tenantView(t))
	}
}

// tenantView is a tenant as the admin API shows it.
func tenantView(t *Tenant) api.TenantView {
	v := api.TenantView{Name: t.Name, Created: t.Created, Keys: len(t.Keys)}
	if !t.Quota.Unbounded() {
		q := api.Quota(t.Quota)
		v.Quota = &q
	}
	return v
}

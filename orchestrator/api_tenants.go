package orchestrator

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"baton.dev/baton/orchestrator/api"
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

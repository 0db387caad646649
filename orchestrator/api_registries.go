package orchestrator

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/registry"
)

// handleListRegistries lists the tenant's registry logins, without their
// passwords.
func (o *Orchestrator) handleListRegistries(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"registries": o.logins.List(tenantOf(r))})
}

// handlePutRegistry stores the tenant's login to a registry: {"username",
// "password"}. The answer never echoes the password.
func (o *Orchestrator) handlePutRegistry(w http.ResponseWriter, r *http.Request) {
	host := chi.URLParam(r, "host")
	if err := CheckHost(host); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	body, ok := readBody(w, r, 16<<10, "the registry login")
	if !ok {
		return
	}
	var req api.RegistryLoginRequest
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("registry login: %v (want {\"username\": \"...\", \"password\": \"...\"})", err))
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "registry login: username and password are required")
		return
	}
	err := o.logins.Put(r.Context(), tenantOf(r), host, registry.Credential{Username: req.Username, Password: req.Password})
	switch {
	case errors.Is(err, ErrNoSecretKey):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	o.log.Info("registry login stored", "tenant", tenantOf(r), "host", host, "username", req.Username)
	writeJSON(w, http.StatusOK, api.RegistryLoginView{Host: host, Username: req.Username})
}

// handleDeleteRegistry removes the tenant's login to a registry.
func (o *Orchestrator) handleDeleteRegistry(w http.ResponseWriter, r *http.Request) {
	host := chi.URLParam(r, "host")
	found, err := o.logins.Delete(r.Context(), tenantOf(r), host)
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	case !found:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no login to registry %q", host))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

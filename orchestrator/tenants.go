package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Tenant is a customer of the cluster: it owns workflows, invocations
// and reports, and authenticates with its API keys, of which only hashes
// are stored.
type Tenant struct {
	Name    string      `json:"name"`
	Created time.Time   `json:"created"`
	Keys    []TenantKey `json:"keys"`
}

// TenantKey is the stored form of one API key.
type TenantKey struct {
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// ErrTenantExists is returned when creating a tenant whose name is taken.
var ErrTenantExists = errors.New("tenant exists")

// tenantNameRE is what a tenant name may be: it appears in NATS keys and
// function keys, so a DNS label.
var tenantNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// CheckTenantName says what is wrong with a tenant name, if anything.
func CheckTenantName(name string) error {
	if !tenantNameRE.MatchString(name) {
		return fmt.Errorf("tenant name %q: want 1 to 40 lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

func tenantKVKey(name string) string { return "tenant." + name }

// PutTenant stores a tenant durably, failing with ErrTenantExists if one
// of that name is there already.
func (r *Registry) PutTenant(ctx context.Context, t *Tenant) error {
	data, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode tenant %s: %w", t.Name, err)
	}
	if _, err := r.kv.Create(ctx, tenantKVKey(t.Name), data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("tenant %q: %w", t.Name, ErrTenantExists)
		}
		return fmt.Errorf("store tenant %s: %w", t.Name, err)
	}
	r.mu.Lock()
	r.tenants[t.Name] = t
	r.mu.Unlock()
	return nil
}

// Tenants returns the tenants sorted by name.
func (r *Registry) Tenants() []*Tenant {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Tenant, 0, len(r.tenants))
	for _, t := range r.tenants {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CreateTenant makes a tenant with one API key and returns the key; it is
// shown this once and stored only as a hash.
func (o *Orchestrator) CreateTenant(ctx context.Context, name string) (*Tenant, string, error) {
	if err := CheckTenantName(name); err != nil {
		return nil, "", err
	}
	key := NewAPIKey()
	now := time.Now().UTC()
	t := &Tenant{Name: name, Created: now, Keys: []TenantKey{{SHA256: HashKey(key), Created: now}}}
	if err := o.registry.PutTenant(ctx, t); err != nil {
		return nil, "", err
	}
	if err := o.cfg.Keys.Add(t.Keys[0].SHA256, name); err != nil {
		return nil, "", err
	}
	return t, key, nil
}

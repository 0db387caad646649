package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"baton.dev/baton/scheduler/decide"
	"github.com/nats-io/nats.go/jetstream"
)

// Tenant is a customer of the cluster: it owns workflows, invocations
// and reports, and authenticates with its API keys, of which only hashes
// are stored.
type Tenant struct {
	Name    string      `json:"name"`
	Created time.Time   `json:"created"`
	Keys    []TenantKey `json:"keys"`
	// Quota bounds what the tenant may hold and send at once (zero:
	// nothing is bounded).
	Quota decide.Quota `json:"quota,omitzero"`
}

// TenantKey is the stored form of one API key.
type TenantKey struct {
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// ErrTenantExists is returned when creating a tenant whose name is taken.
var ErrTenantExists = errors.New("tenant exists")

// ErrTenantNotFound is returned when changing a tenant there is no record
// of.
var ErrTenantNotFound = errors.New("tenant not found")

// ErrTenantChanged is returned when a tenant's record changed (in another
// process) between reading and rewriting it; retrying may succeed.
var ErrTenantChanged = errors.New("tenant changed concurrently")

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

// SetTenantKeys replaces a tenant's keys in its durable record (see
// UpdateTenant).
func (r *Registry) SetTenantKeys(ctx context.Context, name string, keys []TenantKey, create bool) (*Tenant, error) {
	return r.UpdateTenant(ctx, name, create, func(t *Tenant) error { t.Keys = keys; return nil })
}

// UpdateTenant changes a tenant's durable record with change, checking
// the record's revision, and then the copy in memory. A tenant with no
// record gets one when create is set (a bootstrap tenant, whose keys were
// outside the bucket until now); else it is ErrTenantNotFound. An error
// from change stores nothing.
func (r *Registry) UpdateTenant(ctx context.Context, name string, create bool, change func(*Tenant) error) (*Tenant, error) {
	var t Tenant
	var rev uint64
	e, err := r.kv.Get(ctx, tenantKVKey(name))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) && create:
		t = Tenant{Name: name, Created: time.Now().UTC(), Keys: []TenantKey{}}
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, fmt.Errorf("tenant %q: %w", name, ErrTenantNotFound)
	case err != nil:
		return nil, fmt.Errorf("read tenant %s: %w", name, err)
	default:
		if err := json.Unmarshal(e.Value(), &t); err != nil {
			return nil, fmt.Errorf("decode tenant %s: %w", name, err)
		}
		rev = e.Revision()
	}
	if err := change(&t); err != nil {
		return nil, err
	}
	data, err := json.Marshal(&t)
	if err != nil {
		return nil, fmt.Errorf("encode tenant %s: %w", name, err)
	}
	if rev == 0 {
		_, err = r.kv.Create(ctx, tenantKVKey(name), data)
	} else {
		_, err = r.kv.Update(ctx, tenantKVKey(name), data, rev)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return nil, fmt.Errorf("tenant %q: %w; retry", name, ErrTenantChanged)
	case err != nil:
		return nil, fmt.Errorf("store tenant %s: %w", name, err)
	}
	r.mu.Lock()
	r.tenants[name] = &t
	r.mu.Unlock()
	return &t, nil
}

// CreateTenant makes a tenant with one API key and returns the key; it is
// shown this once and stored only as a hash.
func (o *Orchestrator) CreateTenant(ctx context.Context, name string) (*Tenant, string, error) {
	if err := CheckTenantName(name); err != nil {
		return nil, "", err
	}
	if o.cfg.Keys.Bootstrapped(name) {
		return nil, "", fmt.Errorf("tenant %q: %w", name, ErrTenantExists)
	}
	key := NewAPIKey()
	now := time.Now().UTC()
	t := &Tenant{Name: name, Created: now, Keys: []TenantKey{{SHA256: HashKey(key), Created: now}}}
	// Through ReplaceTenant, so that a rotation racing the creation
	// cannot be undone by it.
	if err := o.cfg.Keys.ReplaceTenant(name, []string{t.Keys[0].SHA256}, func() error {
		return o.registry.PutTenant(ctx, t)
	}); err != nil {
		return nil, "", err
	}
	return t, key, nil
}

// RotateTenantKey issues a new API key for a tenant and revokes all its
// others, at once; the key is returned this once and stored only as a
// hash. Its record in the bucket changes before the keys in memory, so a
// restart keeps the rotation.
func (o *Orchestrator) RotateTenantKey(ctx context.Context, name string) (*Tenant, string, error) {
	key := NewAPIKey()
	t, err := o.setTenantKeys(ctx, name, []TenantKey{{SHA256: HashKey(key), Created: time.Now().UTC()}})
	if err != nil {
		return nil, "", err
	}
	o.log.Info("rotated a tenant's API key; its previous keys are revoked", "tenant", name)
	return t, key, nil
}

// RevokeTenantKeys revokes every API key of a tenant, at once; its
// workflows, history and registry logins stay, and RotateTenantKey gives
// it a key again.
func (o *Orchestrator) RevokeTenantKeys(ctx context.Context, name string) (*Tenant, error) {
	t, err := o.setTenantKeys(ctx, name, []TenantKey{})
	if err != nil {
		return nil, err
	}
	o.log.Info("revoked every API key of a tenant", "tenant", name)
	return t, nil
}

// setTenantKeys makes keys the tenant's only keys, durably and then in
// memory. A tenant exists if the bucket has its record or its keys are
// bootstrap keys (the standalone's default tenant before its first
// rotation).
func (o *Orchestrator) setTenantKeys(ctx context.Context, name string, keys []TenantKey) (*Tenant, error) {
	if CheckTenantName(name) != nil {
		return nil, fmt.Errorf("tenant %q: %w", name, ErrTenantNotFound)
	}
	hashes := make([]string, len(keys))
	for i, k := range keys {
		hashes[i] = k.SHA256
	}
	var t *Tenant
	err := o.cfg.Keys.ReplaceTenant(name, hashes, func() error {
		var err error
		t, err = o.registry.SetTenantKeys(ctx, name, keys, o.cfg.Keys.Bootstrapped(name))
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/workflow"
)

// definitionsBucket is the JetStream key-value bucket holding the durable
// definitions.
const definitionsBucket = "baton-definitions"

// Deployment is one deployed workflow of one tenant: its source, as the
// tenant sent it, and the parsed form.
type Deployment struct {
	Tenant   string    `json:"tenant"`
	Name     string    `json:"name"`
	Source   string    `json:"source"` // the YAML as deployed
	Deployed time.Time `json:"deployed"`
	Revision uint64    `json:"revision"`

	Workflow *workflow.Workflow `json:"-"`
}

// FunctionKey names a function of a deployed workflow across tenants.
func FunctionKey(tenant, wf, fn string) string { return tenant + "/" + wf + "/" + fn }

// Functions returns the sandbox configuration of each of the workflow's
// functions. Fixed resources are used as given; `auto` starts at the upper
// bound (the QoS-safe end) until the scheduler chooses.
func (d *Deployment) Functions() []FunctionConfig {
	names := make([]string, 0, len(d.Workflow.Spec.Functions))
	for n := range d.Workflow.Spec.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]FunctionConfig, 0, len(names))
	for _, n := range names {
		f := d.Workflow.Spec.Functions[n]
		out = append(out, FunctionConfig{
			Key:         FunctionKey(d.Tenant, d.Name, n),
			Image:       f.Image,
			CPUMilli:    f.DefaultCPUMilli(),
			MemoryBytes: f.DefaultMemoryBytes(),
			Env:         f.Env,
			Idempotent:  f.Idempotent,
		})
	}
	return out
}

// Registry holds the deployed workflows in memory and, durably, in a
// JetStream key-value bucket. Reads never touch JetStream.
type Registry struct {
	kv  jetstream.KeyValue
	log *slog.Logger
	mu  sync.RWMutex
	m   map[string]map[string]*Deployment // tenant → name → deployment

	tenants map[string]*Tenant
}

// OpenRegistry opens (or creates) the definitions bucket and loads every
// deployment in it.
func OpenRegistry(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Registry, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:  definitionsBucket,
		History: 1,
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", definitionsBucket, err)
	}
	r := &Registry{kv: kv, log: log, m: map[string]map[string]*Deployment{}, tenants: map[string]*Tenant{}}
	keys, err := kv.ListKeys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, fmt.Errorf("list bucket %s: %w", definitionsBucket, err)
	}
	if keys == nil {
		return r, nil
	}
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read %s from bucket %s: %w", key, definitionsBucket, err)
		}
		if strings.HasPrefix(key, "tenant.") {
			var t Tenant
			if err := json.Unmarshal(e.Value(), &t); err != nil {
				log.Error("skipping unreadable tenant", "key", key, "err", err)
				continue
			}
			r.tenants[t.Name] = &t
			continue
		}
		if !strings.HasPrefix(key, "wf.") {
			log.Warn("skipping unknown definition", "key", key)
			continue
		}
		var d Deployment
		if err := json.Unmarshal(e.Value(), &d); err != nil {
			log.Error("skipping unreadable deployment", "key", key, "err", err)
			continue
		}
		wf, err := workflow.Parse(d.Name+".yaml", []byte(d.Source))
		if err != nil {
			log.Error("skipping deployment that no longer validates", "key", key, "err", err)
			continue
		}
		d.Workflow, d.Revision = wf, e.Revision()
		r.setLocked(&d)
	}
	return r, nil
}

func deploymentKey(tenant, name string) string { return "wf." + tenant + "." + name }

func (r *Registry) setLocked(d *Deployment) {
	if r.m[d.Tenant] == nil {
		r.m[d.Tenant] = map[string]*Deployment{}
	}
	r.m[d.Tenant][d.Name] = d
}

// Put stores d durably, then makes it visible.
func (r *Registry) Put(ctx context.Context, d *Deployment) error {
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode deployment %s: %w", d.Name, err)
	}
	rev, err := r.kv.Put(ctx, deploymentKey(d.Tenant, d.Name), data)
	if err != nil {
		return fmt.Errorf("store deployment %s: %w", d.Name, err)
	}
	d.Revision = rev
	r.mu.Lock()
	r.setLocked(d)
	r.mu.Unlock()
	return nil
}

// Get returns a tenant's deployment by name.
func (r *Registry) Get(tenant, name string) (*Deployment, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.m[tenant][name]
	return d, ok
}

// List returns a tenant's deployments sorted by name.
func (r *Registry) List(tenant string) []*Deployment {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Deployment, 0, len(r.m[tenant]))
	for _, d := range r.m[tenant] {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// All returns every tenant's deployments.
func (r *Registry) All() []*Deployment {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Deployment
	for _, byName := range r.m {
		for _, d := range byName {
			out = append(out, d)
		}
	}
	return out
}

// Delete removes a deployment durably, then from memory.
func (r *Registry) Delete(ctx context.Context, tenant, name string) error {
	if err := r.kv.Delete(ctx, deploymentKey(tenant, name)); err != nil {
		return fmt.Errorf("delete deployment %s: %w", name, err)
	}
	r.mu.Lock()
	delete(r.m[tenant], name)
	r.mu.Unlock()
	return nil
}

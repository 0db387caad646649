package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/registry"
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
	// Chosen is the configuration the scheduler chose for the workflow's
	// auto resources, if any.
	Chosen *api.Choice `json:"chosen,omitempty"`
	// Images are the registry images pinned at deploy, by function; local
	// (baton.local) images are not pinned.
	Images map[string]registry.Pinned `json:"images,omitempty"`

	Workflow *workflow.Workflow `json:"-"`
}

// resources returns function n's resources: fixed ones as given, auto ones
// from the choice when it has them within bounds, else the upper bound
// (the QoS-safe end). chosen says whether the choice set any.
func (d *Deployment) resources(n string) (r api.Resources, chosen bool) {
	f := d.Workflow.Spec.Functions[n]
	r = api.Resources{CPUMilli: f.DefaultCPUMilli(), MemoryBytes: f.DefaultMemoryBytes()}
	if d.Chosen == nil || f.Bounds == nil {
		return r, false
	}
	c, ok := d.Chosen.Functions[n]
	if !ok {
		return r, false
	}
	b := f.Bounds
	if f.Resources.CPU.Auto && c.CPUMilli >= b.CPUMilli[0] && c.CPUMilli <= b.CPUMilli[1] {
		r.CPUMilli, chosen = c.CPUMilli, true
	}
	if f.Resources.Memory.Auto && c.MemoryBytes >= b.MemoryBytes[0] && c.MemoryBytes <= b.MemoryBytes[1] {
		r.MemoryBytes, chosen = c.MemoryBytes, true
	}
	return r, chosen
}

// CheckChoice says what is wrong with a choice for d, naming the function
// and resource.
func (d *Deployment) CheckChoice(c *api.Choice) error {
	if len(c.Functions) == 0 {
		return errors.New("functions: empty: give each auto function's cpuMilli and memoryBytes")
	}
	for n, r := range c.Functions {
		f, ok := d.Workflow.Spec.Functions[n]
		if !ok {
			return fmt.Errorf("functions.%s: workflow %s has no such function", n, d.Name)
		}
		if f.Bounds == nil || (!f.Resources.CPU.Auto && !f.Resources.Memory.Auto) {
			return fmt.Errorf("functions.%s: its resources are fixed in the workflow; only auto resources can be chosen", n)
		}
		if f.Resources.CPU.Auto {
			if lo, hi := f.Bounds.CPUMilli[0], f.Bounds.CPUMilli[1]; r.CPUMilli < lo || r.CPUMilli > hi {
				return fmt.Errorf("functions.%s.cpuMilli: %d is outside its bounds [%d, %d]", n, r.CPUMilli, lo, hi)
			}
		} else if r.CPUMilli != 0 && r.CPUMilli != f.Resources.CPU.Milli {
			return fmt.Errorf("functions.%s.cpuMilli: the workflow fixes it at %d", n, f.Resources.CPU.Milli)
		}
		if f.Resources.Memory.Auto {
			if lo, hi := f.Bounds.MemoryBytes[0], f.Bounds.MemoryBytes[1]; r.MemoryBytes < lo || r.MemoryBytes > hi {
				return fmt.Errorf("functions.%s.memoryBytes: %d is outside its bounds [%d, %d]", n, r.MemoryBytes, lo, hi)
			}
		} else if r.MemoryBytes != 0 && r.MemoryBytes != f.Resources.Memory.Bytes {
			return fmt.Errorf("functions.%s.memoryBytes: the workflow fixes it at %d", n, f.Resources.Memory.Bytes)
		}
	}
	return nil
}

// resourcesByFunction is each function's resources, as Functions gives
// them to its sandboxes.
func (d *Deployment) resourcesByFunction() map[string]api.Resources {
	out := make(map[string]api.Resources, len(d.Workflow.Spec.Functions))
	for n := range d.Workflow.Spec.Functions {
		r, _ := d.resources(n)
		out[n] = r
	}
	return out
}

// FunctionKey names a function of a deployed workflow across tenants.
func FunctionKey(tenant, wf, fn string) string { return tenant + "/" + wf + "/" + fn }

// Functions returns the sandbox configuration of each of the workflow's
// functions. Fixed resources are used as given; `auto` ones as chosen, or
// at the upper bound (the QoS-safe end) until the scheduler chooses.
func (d *Deployment) Functions() []FunctionConfig {
	names := make([]string, 0, len(d.Workflow.Spec.Functions))
	for n := range d.Workflow.Spec.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]FunctionConfig, 0, len(names))
	for _, n := range names {
		f := d.Workflow.Spec.Functions[n]
		r, _ := d.resources(n)
		image := f.Image
		if p, ok := d.Images[n]; ok {
			image = p.Pinned
		}
		out = append(out, FunctionConfig{
			Key:         FunctionKey(d.Tenant, d.Name, n),
			Image:       image,
			CPUMilli:    r.CPUMilli,
			MemoryBytes: r.MemoryBytes,
			Env:         f.Env,
			Idempotent:  f.Idempotent,
			Privileges:  sandboxPrivileges(d.Workflow, f),
			Queue:       d.Workflow.Spec.Queue,
		})
	}
	return out
}

// Registry holds the deployed workflows in memory and, durably, in a
// JetStream key-value bucket. Reads never touch JetStream.
//
// It follows the bucket from when it opens (a replica's warm standby sees
// what the leader deploys) until Lead, after which this process is the
// bucket's one writer.
type Registry struct {
	kv     jetstream.KeyValue
	log    *slog.Logger
	follow *follower
	mu     sync.RWMutex
	m      map[string]map[string]*Deployment // tenant → name → deployment

	tenants map[string]*Tenant
	drained map[string]bool // worker IDs drained by an operator
}

// OpenRegistry opens (or creates) the definitions bucket, loads every
// deployment and tenant in it, and follows its changes until Lead.
func OpenRegistry(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Registry, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:  definitionsBucket,
		History: 1,
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", definitionsBucket, err)
	}
	r := &Registry{kv: kv, log: log, m: map[string]map[string]*Deployment{}, tenants: map[string]*Tenant{}, drained: map[string]bool{}}
	if r.follow, err = follow(ctx, kv, log, r.apply); err != nil {
		return nil, err
	}
	return r, nil
}

// Lead applies every change the bucket holds and stops following it.
func (r *Registry) Lead(ctx context.Context) error { return r.follow.catchUp(ctx) }

// Close stops following the bucket.
func (r *Registry) Close() { r.follow.stop() }

// apply takes one change of the bucket into memory: a tenant or a
// deployment stored or removed.
func (r *Registry) apply(e jetstream.KeyValueEntry) {
	key := e.Key()
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := strings.CutPrefix(key, drainPrefix); ok {
		r.setDrainedLocked(id, e.Operation() == jetstream.KeyValuePut)
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		if name, ok := strings.CutPrefix(key, "tenant."); ok {
			delete(r.tenants, name)
		} else if rest, ok := strings.CutPrefix(key, "wf."); ok {
			if tenant, name, ok := strings.Cut(rest, "."); ok { // tenant names have no dot
				delete(r.m[tenant], name)
			}
		}
		return
	}
	if strings.HasPrefix(key, "tenant.") {
		var t Tenant
		if err := json.Unmarshal(e.Value(), &t); err != nil {
			r.log.Error("skipping unreadable tenant", "key", key, "err", err)
			return
		}
		r.tenants[t.Name] = &t
		return
	}
	if !strings.HasPrefix(key, "wf.") {
		r.log.Warn("skipping unknown definition", "key", key)
		return
	}
	var d Deployment
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		r.log.Error("skipping unreadable deployment", "key", key, "err", err)
		return
	}
	wf, err := workflow.Parse(d.Name+".yaml", []byte(d.Source))
	if err != nil {
		r.log.Error("skipping deployment that no longer validates", "key", key, "err", err)
		return
	}
	d.Workflow, d.Revision = wf, e.Revision()
	r.setLocked(&d)
}

// drainPrefix keys, in the definitions bucket, the workers an operator
// drained, so that a drain outlives a failover and a worker's restart.
const drainPrefix = "drain."

// SetDrained records durably that a worker is drained, or no longer.
func (r *Registry) SetDrained(ctx context.Context, id string, drain bool) error {
	var err error
	if drain {
		_, err = r.kv.Put(ctx, drainPrefix+id, []byte("1"))
	} else {
		err = r.kv.Delete(ctx, drainPrefix+id)
	}
	if err != nil {
		return fmt.Errorf("record the drain of worker %s: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setDrainedLocked(id, drain)
	return nil
}

// setDrainedLocked records in memory that a worker is drained, or no
// longer. The caller holds r.mu.
func (r *Registry) setDrainedLocked(id string, drain bool) {
	if drain {
		r.drained[id] = true
	} else {
		delete(r.drained, id)
	}
}

// Drained names the drained workers, sorted.
func (r *Registry) Drained() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.drained))
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

package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/workflow"
)

// QuotaError is work refused because its tenant is at one of its quotas:
// 429, with RetryAfter as the answer's Retry-After. Other tenants are not
// affected.
type QuotaError struct {
	Tenant     string
	Msg        string
	RetryAfter time.Duration
}

// retryAfter is a refusal that says when to try again: its answer has a
// Retry-After.
type retryAfter interface {
	error
	retryIn() time.Duration
}

func (e *QuotaError) retryIn() time.Duration { return e.RetryAfter }

func (e *QuotaError) Error() string {
	return fmt.Sprintf("tenant %s is over its quota: %s; retry after %s", e.Tenant, e.Msg, e.RetryAfter.Round(time.Millisecond))
}

// quotaRetryAfter is what a request refused for want of room under its
// tenant's sandbox quota is told to wait: its other sandboxes are busy, and
// a call takes about this long.
const quotaRetryAfter = time.Second

// invocationRates holds one token bucket per tenant with a rate quota,
// remade when the quota changes.
type invocationRates struct {
	mu sync.Mutex
	m  map[string]*tenantRate
}

type tenantRate struct {
	quota decide.Quota
	lim   *rate.Limiter
}

// admit takes one invocation from tenant's bucket, or says how long until
// there is one.
func (ir *invocationRates) admit(tenant string, q decide.Quota, now time.Time) (bool, time.Duration) {
	if q.InvocationsPerSecond <= 0 {
		return true, 0
	}
	ir.mu.Lock()
	defer ir.mu.Unlock()
	if ir.m == nil {
		ir.m = map[string]*tenantRate{}
	}
	tr := ir.m[tenant]
	if tr == nil || tr.quota != q {
		burst := q.Burst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(q.InvocationsPerSecond)))
		}
		tr = &tenantRate{quota: q, lim: rate.NewLimiter(rate.Limit(q.InvocationsPerSecond), burst)}
		ir.m[tenant] = tr
	}
	if tr.lim.AllowN(now, 1) {
		return true, 0
	}
	r := tr.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// forget drops tenant's bucket (its quota changed: the next admit makes
// one for the new quota, if it has a rate).
func (ir *invocationRates) forget(tenant string) {
	ir.mu.Lock()
	delete(ir.m, tenant)
	ir.mu.Unlock()
}

// admitInvocation checks tenant's invocation rate quota.
func (o *Orchestrator) admitInvocation(tenant string, now time.Time) error {
	q := o.registry.Quota(tenant)
	if ok, wait := o.rates.admit(tenant, q, now); !ok {
		return &QuotaError{Tenant: tenant, Msg: fmt.Sprintf("more than %g invocations per second", q.InvocationsPerSecond), RetryAfter: wait}
	}
	return nil
}

// Quota is tenant's quota (zero when it has none).
func (r *Registry) Quota(tenant string) decide.Quota {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t := r.tenants[tenant]; t != nil {
		return t.Quota
	}
	return decide.Quota{}
}

// Quotas are the quotas of the tenants that have one, for the autoscaler.
func (r *Registry) Quotas() map[string]decide.Quota {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := map[string]decide.Quota{}
	for name, t := range r.tenants {
		if !t.Quota.Unbounded() {
			out[name] = t.Quota
		}
	}
	return out
}

// checkQuota refuses a workflow one of whose functions could not run a
// single sandbox under its tenant's quota, naming the function's
// resources field and where it is written.
func (o *Orchestrator) checkQuota(tenant, filename string, wf *workflow.Workflow) *DeployError {
	q := o.registry.Quota(tenant)
	if q.Unbounded() {
		return nil
	}
	var problems workflow.Problems
	for _, name := range slices.Sorted(maps.Keys(wf.Spec.Functions)) {
		f := wf.Spec.Functions[name]
		if err := q.Admit(f.MinCPUMilli(), f.MinMemoryBytes()); err != nil {
			problems = append(problems, workflow.Problem{File: filename, Line: f.ResourcesAt.Line, Col: f.ResourcesAt.Col,
				Field: "spec.functions." + name + ".resources", Msg: err.Error()})
		}
	}
	if len(problems) > 0 {
		return &DeployError{Status: http.StatusUnprocessableEntity, Msg: problems.Error(), Problems: problems}
	}
	return nil
}

// ErrQuotaTooSmall is a quota below what a deployed workflow needs.
var ErrQuotaTooSmall = errors.New("quota below what a deployed workflow needs")

// SetTenantQuota sets a tenant's quota, durably, effective at the next
// request and the autoscaler's next decision. A quota under which one of
// the tenant's deployed workflows could not run a sandbox of one of its
// functions is refused (ErrQuotaTooSmall, naming them), as is a negative
// one.
func (o *Orchestrator) SetTenantQuota(ctx context.Context, name string, q decide.Quota) (*Tenant, error) {
	if CheckTenantName(name) != nil {
		return nil, fmt.Errorf("tenant %q: %w", name, ErrTenantNotFound)
	}
	if q.Sandboxes < 0 || q.CPUMilli < 0 || q.MemoryBytes < 0 || q.InvocationsPerSecond < 0 || q.Burst < 0 ||
		math.IsNaN(q.InvocationsPerSecond) || math.IsInf(q.InvocationsPerSecond, 0) {
		return nil, fmt.Errorf("quota %+v: %w: every bound is 0 (none) or positive", q, ErrQuotaInvalid)
	}
	if q.Weight < 0 || q.Weight > 1000 || math.IsNaN(q.Weight) || (q.Weight > 0 && q.Weight < 0.001) {
		return nil, fmt.Errorf("quota weight %g: %w: want 0 (the default, 1) or between 0.001 and 1000", q.Weight, ErrQuotaInvalid)
	}
	var short []string
	for _, d := range o.registry.List(name) {
		for _, fn := range slices.Sorted(maps.Keys(d.Workflow.Spec.Functions)) {
			f := d.Workflow.Spec.Functions[fn]
			if err := q.Admit(f.MinCPUMilli(), f.MinMemoryBytes()); err != nil {
				short = append(short, fmt.Sprintf("workflow %s, function %s: %v", d.Name, fn, err))
			}
		}
	}
	if len(short) > 0 {
		return nil, fmt.Errorf("tenant %s: %w: %s", name, ErrQuotaTooSmall, strings.Join(short, "; "))
	}
	t, err := o.registry.UpdateTenant(ctx, name, o.cfg.Keys.Bootstrapped(name), func(t *Tenant) error {
		t.Quota = q
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.log.Info("tenant quota set", "tenant", name, "sandboxes", q.Sandboxes, "cpuMilli", q.CPUMilli,
		"memoryBytes", q.MemoryBytes, "invocationsPerSecond", q.InvocationsPerSecond, "burst", q.Burst)
	o.rates.forget(name)
	o.router.signal() // queues a smaller quota no longer serves are refused at once
	return t, nil
}

// ErrQuotaInvalid is a quota with a negative bound.
var ErrQuotaInvalid = errors.New("invalid quota")

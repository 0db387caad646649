package orchestrator

import (
	"sync"

	"baton.dev/baton/orchestrator/api"
)

// Invocations keeps the most recent invocation records in memory, for
// GET /v1/invocations/{id}. It never writes anywhere durable; history in
// Postgres is written off the invocation path by the history sink.
type Invocations struct {
	mu    sync.RWMutex
	max   int
	m     map[string]*api.Invocation
	order []string // ring of IDs, oldest at head
	head  int
}

// NewInvocations keeps at most max records (default 10,000).
func NewInvocations(max int) *Invocations {
	if max <= 0 {
		max = 10000
	}
	return &Invocations{max: max, m: map[string]*api.Invocation{}}
}

// Put stores or replaces a record. Records are replaced, never mutated
// after Put, so readers can use them without a lock.
func (s *Invocations) Put(inv *api.Invocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(inv)
}

func (s *Invocations) putLocked(inv *api.Invocation) {
	if _, ok := s.m[inv.ID]; !ok {
		if len(s.order) < s.max {
			s.order = append(s.order, inv.ID)
		} else {
			delete(s.m, s.order[s.head])
			s.order[s.head] = inv.ID
			s.head = (s.head + 1) % s.max
		}
	}
	s.m[inv.ID] = inv
}

// PutIfAbsent keeps inv unless a record of its ID is already kept (an
// asynchronous invocation can finish before its handler records it as
// accepted); it reports whether inv was kept.
func (s *Invocations) PutIfAbsent(inv *api.Invocation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[inv.ID]; ok {
		return false
	}
	s.putLocked(inv)
	return true
}

func (s *Invocations) Get(tenant, id string) (*api.Invocation, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	inv, ok := s.m[id]
	if !ok || inv.Tenant != tenant {
		return nil, false
	}
	return inv, true
}

// List returns up to limit of a tenant's records, of one workflow or all,
// newest first.
func (s *Invocations) List(tenant, workflow string, limit int) []*api.Invocation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.Invocation
	n := len(s.order)
	for i := range n {
		// Walk the ring from the newest entry back.
		inv := s.m[s.order[(s.head-1-i+2*n)%n]]
		if inv == nil || inv.Tenant != tenant || (workflow != "" && inv.Workflow != workflow) {
			continue
		}
		out = append(out, inv)
		if len(out) == limit {
			break
		}
	}
	return out
}

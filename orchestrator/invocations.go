package orchestrator

import (
	"encoding/json"
	"sync"
	"time"

	"baton.dev/baton/worker"
)

// Invocation statuses.
const (
	StatusAccepted  = "accepted"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Invocation is the record of one workflow invocation, as the API shows it.
type Invocation struct {
	ID        string        `json:"id"`
	Tenant    string        `json:"-"`
	Workflow  string        `json:"workflow"`
	Async     bool          `json:"async"`
	Status    string        `json:"status"`
	Start     time.Time     `json:"start"`
	End       time.Time     `json:"end,omitzero"`
	LatencyMs float64       `json:"latencyMs,omitempty"`
	Error     string        `json:"error,omitempty"`
	Stage     string        `json:"failedStage,omitempty"`
	Output    []byte        `json:"-"`
	Stages    []StageTiming `json:"stages"`
	// ColdStarts counts the stage calls that waited for a new sandbox.
	ColdStarts int `json:"coldStarts"`
	// Cost is the execution cost of the stages, in dollars.
	Cost     float64 `json:"cost"`
	Revision uint64  `json:"revision"`
}

// MarshalJSON adds the output: raw when it is JSON, as a string otherwise.
func (inv *Invocation) MarshalJSON() ([]byte, error) {
	type plain Invocation
	var out any
	if inv.Output != nil {
		if json.Valid(inv.Output) {
			out = json.RawMessage(inv.Output)
		} else {
			out = string(inv.Output)
		}
	}
	return json.Marshal(struct {
		*plain
		Output any `json:"output,omitempty"`
	}{(*plain)(inv), out})
}

// StageTiming is how one stage of an invocation was spent. A foreach stage
// makes several calls; its figures add them up (queue and execution as
// the sum over calls, Cold if any call was cold).
type StageTiming struct {
	Stage     string            `json:"stage"`
	Function  string            `json:"function"`
	Start     time.Time         `json:"start"`
	End       time.Time         `json:"end"`
	Calls     int               `json:"calls"`
	Attempts  int               `json:"attempts"`
	QueuedMs  float64           `json:"queuedMs"`
	ExecMs    float64           `json:"execMs"`
	Cold      bool              `json:"cold"`
	ColdStart *worker.ColdStart `json:"coldStart,omitempty"`
	Sandbox   string            `json:"sandbox,omitempty"`
	CPUMilli  int64             `json:"cpuMilli,omitempty"`
	Memory    int64             `json:"memoryBytes,omitempty"`
	Cost      float64           `json:"cost"`
	Worker    string            `json:"worker,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// Invocations keeps the most recent invocation records in memory, for
// GET /v1/invocations/{id}. It never writes anywhere durable; history in
// Postgres is written off the invocation path by the history sink.
type Invocations struct {
	mu    sync.RWMutex
	max   int
	m     map[string]*Invocation
	order []string // ring of IDs, oldest at head
	head  int
}

// NewInvocations keeps at most max records (default 10,000).
func NewInvocations(max int) *Invocations {
	if max <= 0 {
		max = 10000
	}
	return &Invocations{max: max, m: map[string]*Invocation{}}
}

// Put stores or replaces a record. Records are replaced, never mutated
// after Put, so readers can use them without a lock.
func (s *Invocations) Put(inv *Invocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(inv)
}

func (s *Invocations) putLocked(inv *Invocation) {
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
func (s *Invocations) PutIfAbsent(inv *Invocation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[inv.ID]; ok {
		return false
	}
	s.putLocked(inv)
	return true
}

func (s *Invocations) Get(tenant, id string) (*Invocation, bool) {
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
func (s *Invocations) List(tenant, workflow string, limit int) []*Invocation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Invocation
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

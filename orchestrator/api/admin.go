package api

import "time"

// WorkerView is a worker as the admin API shows it.
type WorkerView struct {
	ID      string `json:"id"`
	Runtime string `json:"runtime"`
	State   string `json:"state"` // ready, draining, suspect or dead
	// CPUMilli and MemoryBytes are the worker's capacity: Reserved*
	// never exceed them. CPUMilli is the CPU it offers times its
	// CPUAllocationRatio (its CPU over-commit).
	CPUMilli            int64     `json:"cpuMilli"`
	CPUAllocationRatio  float64   `json:"cpuAllocationRatio,omitempty"`
	MemoryBytes         int64     `json:"memoryBytes"`
	ReservedCPUMilli    int64     `json:"reservedCpuMilli"`
	ReservedMemoryBytes int64     `json:"reservedMemoryBytes"`
	Sandboxes           int       `json:"sandboxes"`
	LastHeartbeat       time.Time `json:"lastHeartbeat"`
	// Stranded counts the sandboxes dead incarnations of this worker
	// left running, until a worker starting on their machine removes
	// them (or `baton worker --cleanup` there).
	Stranded    int    `json:"stranded"`
	Incarnation string `json:"incarnation,omitempty"`
	Machine     string `json:"machine,omitempty"`
}

// TenantView is a tenant as the admin API shows it; Key is present only
// in the answer that created it or rotated its key (POST
// /v1/tenants/{name}/keys).
type TenantView struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Keys    int       `json:"keys"`
	Key     string    `json:"key,omitempty"`
	// Quota is what the tenant may hold and send at once (absent: no
	// bounds).
	Quota *Quota `json:"quota,omitempty"`
}

// Quota bounds one tenant: its sandboxes (idle, busy or being created),
// their CPU and memory, and the invocations per second the API accepts
// from it (with bursts of Burst). Zero bounds nothing. PUT
// /v1/tenants/{name}/quota sets it.
type Quota struct {
	Sandboxes            int     `json:"sandboxes,omitempty"`
	CPUMilli             int64   `json:"cpuMilli,omitempty"`
	MemoryBytes          int64   `json:"memoryBytes,omitempty"`
	InvocationsPerSecond float64 `json:"invocationsPerSecond,omitempty"`
	Burst                int     `json:"burst,omitempty"`
	// Weight is the tenant's weight in the fair share of contended
	// capacity (default 1), not a bound.
	Weight float64 `json:"weight,omitempty"`
}

// RegistryLoginView is a tenant's login to a registry as the API shows
// it: never its password.
type RegistryLoginView struct {
	Host     string    `json:"host"`
	Username string    `json:"username"`
	Created  time.Time `json:"created"`
}

// RegistryLoginRequest is PUT /v1/registries/{host}.
type RegistryLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// ClusterView is GET /v1/cluster: the orchestrator replicas as the one
// that answered sees them.
type ClusterView struct {
	// Replica names the replica that answered; Role is "leader" or
	// "standby".
	Replica string      `json:"replica"`
	Role    string      `json:"role"`
	Leader  *LeaderView `json:"leader,omitempty"`
}

// LeaderView is the replica that holds the leader's lease: its term
// (one more at each takeover) and since when it leads.
type LeaderView struct {
	ID    string    `json:"id"`
	URL   string    `json:"url"`
	Term  uint64    `json:"term"`
	Since time.Time `json:"since"`
}

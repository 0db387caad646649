package history

import (
	"encoding/json"
	"time"

	"baton.dev/baton/orchestrator/api"
)

// Record is one row of history. The writer groups records by table.
type Record interface {
	table() string
	columns() []string
	values() []any
}

// Invocation is one finished invocation.
type Invocation struct {
	ID, Tenant, Workflow string
	Revision             uint64
	Async                bool
	Status               string // succeeded or failed
	Error, FailedStage   string
	Start, End           time.Time
	LatencyMs            float64
	QoSLatencyMs         float64 // 0: the workflow has no QoS
	QoSPercentile        float64
	ColdStarts           int
	Cost                 float64 // execution cost of its stages, dollars
	// InputBytes and OutputBytes are the sizes of the request body and
	// of the workflow's response (0 when it failed); nil on rows written
	// before history kept them.
	InputBytes, OutputBytes *int64
}

func (Invocation) table() string { return "invocations" }
func (Invocation) columns() []string {
	return []string{"id", "tenant", "workflow", "revision", "async", "status", "error", "failed_stage",
		"started_at", "ended_at", "latency_ms", "qos_latency_ms", "qos_percentile", "cold_starts", "cost", "input_bytes", "output_bytes"}
}
func (r Invocation) values() []any {
	var qosMs, qosP any
	if r.QoSLatencyMs > 0 {
		qosMs, qosP = r.QoSLatencyMs, r.QoSPercentile
	}
	return []any{r.ID, r.Tenant, r.Workflow, int64(r.Revision), r.Async, r.Status, r.Error, r.FailedStage,
		r.Start, r.End, r.LatencyMs, qosMs, qosP, int32(r.ColdStarts), r.Cost, r.InputBytes, r.OutputBytes}
}

// StageRun is one stage of one invocation; a foreach stage's calls are
// added up in it.
type StageRun struct {
	InvocationID, Stage, Tenant, Workflow, Function string
	Sandbox, Worker                                 string
	Start, End                                      time.Time
	Calls, Attempts                                 int
	QueuedMs, ExecMs                                float64
	Cold                                            bool
	CPUMilli, MemoryBytes                           int64
	Cost                                            float64
	Error                                           string
}

func (StageRun) table() string { return "stage_runs" }
func (StageRun) columns() []string {
	return []string{"invocation_id", "stage", "tenant", "workflow", "function", "sandbox", "worker",
		"started_at", "ended_at", "calls", "attempts", "queued_ms", "exec_ms", "cold", "cpu_milli", "memory_bytes", "cost", "error"}
}
func (r StageRun) values() []any {
	return []any{r.InvocationID, r.Stage, r.Tenant, r.Workflow, r.Function, r.Sandbox, r.Worker,
		r.Start, r.End, int32(r.Calls), int32(r.Attempts), r.QueuedMs, r.ExecMs, r.Cold, r.CPUMilli, r.MemoryBytes, r.Cost, r.Error}
}

// Sandbox event kinds.
const (
	SandboxReady   = "ready"
	SandboxDeleted = "deleted"
	SandboxFailed  = "failed"
)

// SandboxEvent is a sandbox becoming ready (with its cold-start
// breakdown), being deleted, or failing to start.
type SandboxEvent struct {
	ID, Sandbox, Event                 string
	At                                 time.Time
	Tenant, Workflow, Function, Worker string
	CPUMilli, MemoryBytes              int64
	// Cold-start phases in milliseconds (ready events only).
	PullMs, ImageMs, CreateMs, NetworkMs, StartMs, HealthyMs, TotalMs float64
	Error                                                             string
}

func (SandboxEvent) table() string { return "sandbox_events" }
func (SandboxEvent) columns() []string {
	return []string{"id", "sandbox", "event", "at", "tenant", "workflow", "function", "worker", "cpu_milli", "memory_bytes",
		"pull_ms", "image_ms", "create_ms", "network_ms", "start_ms", "healthy_ms", "total_ms", "error"}
}
func (r SandboxEvent) values() []any {
	phases := []any{nil, nil, nil, nil, nil, nil, nil}
	if r.Event == SandboxReady {
		phases = []any{r.PullMs, r.ImageMs, r.CreateMs, r.NetworkMs, r.StartMs, r.HealthyMs, r.TotalMs}
	}
	return append([]any{r.ID, r.Sandbox, r.Event, r.At, r.Tenant, r.Workflow, r.Function, r.Worker, r.CPUMilli, r.MemoryBytes},
		append(phases, r.Error)...)
}

// Decision is a configuration the scheduler chose for a workflow, and why.
type Decision struct {
	ID, Tenant, Workflow string
	At                   time.Time
	Policy               string
	Config               json.RawMessage
	Reason               string
}

func (Decision) table() string { return "scheduler_decisions" }
func (Decision) columns() []string {
	return []string{"id", "tenant", "workflow", "at", "policy", "config", "reason"}
}
func (r Decision) values() []any {
	return []any{r.ID, r.Tenant, r.Workflow, r.At, r.Policy, string(r.Config), r.Reason}
}

// Sample is one measurement the scheduler learnt from.
type Sample struct {
	ID, Tenant, Workflow string
	At                   time.Time
	Config               json.RawMessage
	LatencyMs, Cost      float64
}

func (Sample) table() string { return "scheduler_samples" }
func (Sample) columns() []string {
	return []string{"id", "tenant", "workflow", "at", "config", "latency_ms", "cost"}
}
func (r Sample) values() []any {
	return []any{r.ID, r.Tenant, r.Workflow, r.At, string(r.Config), r.LatencyMs, r.Cost}
}

// ConfigurationChange is a change of a workflow's configuration: when,
// why, and each function's resources before and after.
type ConfigurationChange struct {
	ID, Tenant, Workflow string
	At                   time.Time
	Kind                 string // one of api's Change kinds
	Revision             uint64
	Policy, Reason       string
	// Before is nil for a workflow's first deploy.
	Before, After map[string]api.Resources
}

func (ConfigurationChange) table() string { return "configuration_changes" }
func (ConfigurationChange) columns() []string {
	return []string{"id", "tenant", "workflow", "at", "kind", "revision", "policy", "reason", "before", "after"}
}
func (r ConfigurationChange) values() []any {
	var before any
	if r.Before != nil {
		b, _ := json.Marshal(r.Before) // a map of plain structs always encodes
		before = string(b)
	}
	after, _ := json.Marshal(r.After)
	if r.After == nil {
		after = []byte("{}")
	}
	return []any{r.ID, r.Tenant, r.Workflow, r.At, r.Kind, int64(r.Revision), r.Policy, r.Reason, before, string(after)}
}

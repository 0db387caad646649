package api

import (
	"time"

	"baton.dev/baton/scheduler/stats"
)

// ReportResponse is GET /v1/reports.
type ReportResponse struct {
	// History is "on" or "off"; when off there are no figures, only
	// Message and the configurations.
	History   string           `json:"history"`
	Message   string           `json:"message,omitempty"`
	Since     time.Time        `json:"since"`
	Until     time.Time        `json:"until"`
	Workflows []WorkflowReport `json:"workflows"`
	// Dropped counts the history records this orchestrator dropped
	// because its buffer was full; the figures miss them.
	Dropped uint64 `json:"droppedRecords"`
}

// WorkflowReport is one workflow's figures (nil when history is off) and
// its current configuration.
type WorkflowReport struct {
	Name          string           `json:"name"`
	Figures       *Figures         `json:"figures,omitempty"`
	Configuration []FunctionChoice `json:"configuration,omitempty"`
}

// FunctionChoice is a function's current resources and who chose them.
type FunctionChoice struct {
	Function    string `json:"function"`
	CPUMilli    int64  `json:"cpuMilli"`
	MemoryBytes int64  `json:"memoryBytes"`
	// ChosenBy is "fixed" (the workflow says so), "default" (auto
	// resources at their upper bounds until the scheduler tunes them) or
	// "scheduler" (Detail says which policy, when and why).
	ChosenBy string `json:"chosenBy"`
	Detail   string `json:"detail"`
}

// Figures are one workflow's QoS and cost over a window. Latency
// percentiles are by nearest rank over every invocation, a failed one
// counted as slower than any success (package stats): null in JSON when
// the rank falls on a failure.
type Figures struct {
	Workflow    string    `json:"workflow"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	Invocations int       `json:"invocations"`
	Errors      int       `json:"errors"`
	LatencyMs   Latency   `json:"latencyMs"`
	QoS         *QoS      `json:"qos,omitempty"`
	Cost        Cost      `json:"cost"`
	// ColdStartRate is the share of stage runs that waited for a new
	// sandbox.
	ColdStartRate float64       `json:"coldStartRate"`
	Stages        []StageReport `json:"stages"`
}

// Latency percentiles in milliseconds; +Inf (null) when the rank falls
// on a failed invocation.
type Latency struct {
	P50 stats.Ms `json:"p50"`
	P95 stats.Ms `json:"p95"`
	P99 stats.Ms `json:"p99"`
}

// QoS compares the window with the workflow's latency target (the latest
// target seen in the window).
type QoS struct {
	TargetMs   float64 `json:"targetMs"`
	Percentile float64 `json:"percentile"`
	// AchievedMs is the latency at the target's percentile.
	AchievedMs stats.Ms `json:"achievedMs"`
	Met        bool     `json:"met"`
	// ViolationRate is the share of invocations that failed or took
	// longer than the target.
	ViolationRate float64 `json:"violationRate"`
}

// Cost in dollars. Execution is what the stages' runs cost; Idle is what
// the workflow's warm sandboxes cost while they ran nothing (their lifetime
// in the window at the same rates, less execution).
type Cost struct {
	Execution     float64 `json:"execution"`
	Idle          float64 `json:"idle"`
	Total         float64 `json:"total"`
	PerInvocation float64 `json:"perInvocation"`
}

// StageReport is one stage's latency and cost over the window.
type StageReport struct {
	Stage             string  `json:"stage"`
	Function          string  `json:"function"`
	Runs              int     `json:"runs"`
	ExecP50Ms         float64 `json:"execP50Ms"`
	ExecP95Ms         float64 `json:"execP95Ms"`
	QueuedMeanMs      float64 `json:"queuedMeanMs"`
	ColdRate          float64 `json:"coldRate"`
	Cost              float64 `json:"cost"`
	CostPerInvocation float64 `json:"costPerInvocation"`
}

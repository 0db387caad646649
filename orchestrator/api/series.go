package api

import (
	"time"

	"baton.dev/baton/scheduler/stats"
)

// MaxSeriesBuckets is the most buckets one series may have: a step too
// small for its window is refused rather than computed.
const MaxSeriesBuckets = 2000

// Series is GET /v1/reports/series: one workflow's figures over a window
// cut into buckets of Step, from Postgres history. Bucket i covers
// [Since + i·Step, Since + (i+1)·Step), the last one cut at Until; Since is
// the window's start rounded down to a multiple of the step, so the same
// step always draws the same buckets. Every bucket is listed, empty ones
// too (Invocations 0, figures null).
type Series struct {
	// History is "on" or "off"; when off there are no buckets, only
	// Message.
	History     string    `json:"history"`
	Message     string    `json:"message,omitempty"`
	Workflow    string    `json:"workflow"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	StepSeconds float64   `json:"stepSeconds"`
	// QoS is the workflow's latency target, the latest seen in the window
	// (as in the report); nil when it has none there.
	QoS *QoSTarget `json:"qos,omitempty"`
	// Functions names the functions whose warm pools the buckets hold, in
	// order.
	Functions []string       `json:"functions"`
	Buckets   []SeriesBucket `json:"buckets"`
	// Dropped counts the history records this orchestrator dropped
	// because its buffer was full; the figures miss them.
	Dropped uint64 `json:"droppedRecords"`
}

// QoSTarget is a latency target: the Percentile-th percentile at most
// TargetMs.
type QoSTarget struct {
	TargetMs   float64 `json:"targetMs"`
	Percentile float64 `json:"percentile"`
}

// SeriesBucket is one bucket's figures. Percentiles are by nearest rank
// with a failure ranked slower than every success, as in the report: null
// in JSON when the rank falls on a failure, or, with Invocations 0, when
// the bucket is empty.
type SeriesBucket struct {
	Start       time.Time `json:"start"`
	Invocations int       `json:"invocations"`
	Errors      int       `json:"errors"`
	// LatencyMs is nil when the bucket has no invocation.
	LatencyMs *Latency `json:"latencyMs"`
	// QoSMs is the latency at the QoS target's percentile (nil without a
	// target or without invocations).
	QoSMs *stats.Ms `json:"qosMs"`
	// ViolationRate is the share of the bucket's invocations that failed
	// or took longer than the target (nil without a target or without
	// invocations).
	ViolationRate *float64   `json:"violationRate"`
	Cost          SeriesCost `json:"cost"`
	// StageRuns and ColdStarts count the stage runs that started in the
	// bucket and those of them that waited for a new sandbox;
	// ColdStartRate is their ratio (nil without stage runs).
	StageRuns     int      `json:"stageRuns"`
	ColdStarts    int      `json:"coldStarts"`
	ColdStartRate *float64 `json:"coldStartRate"`
	// WarmPool is, per function, the mean number of ready sandboxes over
	// the bucket (sandbox-seconds over the bucket's seconds); functions
	// with none are left out.
	WarmPool map[string]float64 `json:"warmPool"`
}

// SeriesCost is a bucket's cost in dollars, split as the report splits it:
// Execution is what the invocations that started in the bucket cost; Idle
// what the workflow's ready sandboxes cost during the bucket beyond that.
// The per-invocation figures are nil when the bucket has no invocation.
type SeriesCost struct {
	Execution              float64  `json:"execution"`
	Idle                   float64  `json:"idle"`
	Total                  float64  `json:"total"`
	PerInvocation          *float64 `json:"perInvocation"`
	ExecutionPerInvocation *float64 `json:"executionPerInvocation"`
	IdlePerInvocation      *float64 `json:"idlePerInvocation"`
}

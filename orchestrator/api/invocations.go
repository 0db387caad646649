package api

import (
	"encoding/json"
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
	// InputBytes and OutputBytes are the sizes of the request body and of
	// the workflow's response (0 when it failed); absent while it runs,
	// and for invocations history has from before it kept them.
	InputBytes  *int64 `json:"inputBytes,omitempty"`
	OutputBytes *int64 `json:"outputBytes,omitempty"`
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

// UnmarshalJSON reads what MarshalJSON writes; the output is kept as the
// JSON value it was written as (a function's non-JSON output as a JSON
// string), so that writing the record again gives the same document.
func (inv *Invocation) UnmarshalJSON(b []byte) error {
	type plain Invocation
	var in struct {
		*plain
		Output json.RawMessage `json:"output"`
	}
	in.plain = (*plain)(inv)
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	inv.Output = nil
	if len(in.Output) > 0 && string(in.Output) != "null" {
		inv.Output = []byte(in.Output)
	}
	return nil
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

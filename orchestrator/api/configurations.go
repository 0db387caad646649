package api

import (
	"fmt"
	"time"

	"baton.dev/baton/scheduler/stats"
)

// Kinds of configuration change, as GET /v1/workflows/{name}/configurations
// lists them and PUT /v1/workflows/{name}/configuration takes them
// (Choice.Kind; deploy is the orchestrator's own).
const (
	ChangeDeploy   = "deploy"   // a new workflow or a new revision of it
	ChangeTune     = "tune"     // the configuration a tuning run chose
	ChangeRetune   = "re-tune"  // the configuration a re-tuning chose
	ChangeExplore  = "explore"  // one the tuner tried while exploring
	ChangeValidate = "validate" // one applied to validate a tuned one against another
	ChangeManual   = "manual"   // chosen by hand
)

// ChoiceKinds are the kinds a Choice may name.
func ChoiceKinds() []string {
	return []string{ChangeTune, ChangeRetune, ChangeExplore, ChangeValidate, ChangeManual}
}

// Settled says whether a change of this kind is meant to stay (a deploy,
// a tuning's or a re-tuning's result, a choice by hand), as opposed to
// one a tuner applies for a while to measure it.
func Settled(kind string) bool { return kind != ChangeExplore && kind != ChangeValidate }

// MaxConfigurationChanges is the most changes one answer of
// GET /v1/workflows/{name}/configurations lists, and MaxChangeWindow the
// longest window it compares before and after a change.
const (
	MaxConfigurationChanges = 1000
	MaxChangeWindow         = 7 * 24 * time.Hour
)

// ParseChangeWindow reads GET /v1/workflows/{name}/configurations' window:
// a duration from 1s to MaxChangeWindow. The error says what is wanted;
// the caller names the parameter or flag.
func ParseChangeWindow(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > MaxChangeWindow {
		return 0, fmt.Errorf("%q: want a duration from 1s to %s, like 1h", s, MaxChangeWindow)
	}
	return d, nil
}

// CheckChangeLimit checks GET /v1/workflows/{name}/configurations' limit:
// from 1 to MaxConfigurationChanges.
func CheckChangeLimit(n int) error {
	if n < 1 || n > MaxConfigurationChanges {
		return fmt.Errorf("%d: want a whole number from 1 to %d", n, MaxConfigurationChanges)
	}
	return nil
}

// ConfigurationHistory is GET /v1/workflows/{name}/configurations: the
// workflow's configuration changes, newest first, each with what the
// workflow's invocations did in a window before and after it.
type ConfigurationHistory struct {
	// History is "on" or "off"; when off there are no changes, only
	// Message.
	History  string `json:"history"`
	Message  string `json:"message,omitempty"`
	Workflow string `json:"workflow"`
	// Percentile is the latency percentile each window reports beside
	// p50 and p99: the workflow's QoS percentile, 95 without one.
	Percentile float64 `json:"percentile"`
	// WindowSeconds bounds the windows: Before is at most this long and
	// ends where the previous settled configuration ended; After is at
	// most this long and ends at the next change.
	WindowSeconds float64               `json:"windowSeconds"`
	Changes       []ConfigurationChange `json:"changes"`
	// Dropped counts the history records this orchestrator dropped
	// because its buffer was full.
	Dropped uint64 `json:"droppedRecords"`
}

// ConfigurationChange is one change of a workflow's configuration.
type ConfigurationChange struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Revision uint64    `json:"revision"`
	Policy   string    `json:"policy,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// Functions lists every function before or after, by name.
	Functions []FunctionChange `json:"functions"`
	// Before covers the invocations that started in the last WindowSeconds
	// of the previous settled configuration (for an explored or validated
	// one: of the configuration it replaced); nil for a workflow's first
	// deploy. After covers those that started from the change to the next
	// change, at most WindowSeconds.
	Before *ChangeWindow `json:"before,omitempty"`
	After  *ChangeWindow `json:"after"`
}

// FunctionChange is one function's resources before and after a change;
// Before is nil for a function the change added, After for one it
// removed.
type FunctionChange struct {
	Function string     `json:"function"`
	Before   *Resources `json:"before,omitempty"`
	After    *Resources `json:"after,omitempty"`
	Changed  bool       `json:"changed"`
}

// ChangeWindow is what a workflow's invocations that started in
// [Since, Until) did. Percentiles are by nearest rank with a failure
// ranked slower than every success, as in the report; they and the cost
// are nil when no invocation started in the window.
type ChangeWindow struct {
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	Invocations int       `json:"invocations"`
	Errors      int       `json:"errors"`
	P50Ms       *stats.Ms `json:"p50Ms"`
	// PercentileMs is at ConfigurationHistory.Percentile.
	PercentileMs *stats.Ms `json:"percentileMs"`
	P99Ms        *stats.Ms `json:"p99Ms"`
	// ExecutionCostPerInvocation is the invocations' execution cost over
	// their number, in dollars (idle sandboxes are not counted: they are
	// not one configuration's).
	ExecutionCostPerInvocation *float64 `json:"executionCostPerInvocation"`
}

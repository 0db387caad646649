package api

import "time"

// WorkflowSummary is a deployment as the deploy, list and get endpoints
// show it.
type WorkflowSummary struct {
	Name      string    `json:"name"`
	Revision  uint64    `json:"revision"`
	Deployed  time.Time `json:"deployed"`
	Stages    []string  `json:"stages"`
	Functions []string  `json:"functions"`
	// Images are the functions' images: as the workflow wrote them and,
	// for registry images, the digest deploy pinned them to.
	Images []ImageView `json:"images,omitempty"`
	QoS    *QoSView    `json:"qos,omitempty"`
	Invoke string      `json:"invoke"`
	Source string      `json:"source,omitempty"`
}

// ImageView is one function's image.
type ImageView struct {
	Function string `json:"function"`
	// Image is the reference as written in the workflow.
	Image string `json:"image"`
	// Digest is what it resolved to at deploy; empty for a local image.
	Digest string `json:"digest,omitempty"`
	// Pinned is the reference workers pull: the repository at Digest.
	Pinned string `json:"pinned,omitempty"`
}

// QoSView is a workflow's latency target as the API shows it.
type QoSView struct {
	LatencyMs  float64 `json:"latencyMs"`
	Percentile float64 `json:"percentile"`
}

// Choice is a configuration chosen for a workflow's auto resources, by
// whom and why.
type Choice struct {
	Functions map[string]Resources `json:"functions"`
	Policy    string               `json:"policy"`
	Reason    string               `json:"reason"`
	// Kind is what the change is for, one of ChoiceKinds(); empty means
	// manual for policy "manual" (or none), tune for another policy.
	Kind string    `json:"kind,omitempty"`
	At   time.Time `json:"at"`
}

// Resources are one function's CPU and memory.
type Resources struct {
	CPUMilli    int64 `json:"cpuMilli"`
	MemoryBytes int64 `json:"memoryBytes"`
}

// ConfigurationView is GET /v1/workflows/{name}/configuration: every
// function's resources now and, if any, the scheduler's choice.
type ConfigurationView struct {
	Workflow  string           `json:"workflow"`
	Functions []FunctionChoice `json:"functions"`
	Chosen    *Choice          `json:"chosen,omitempty"`
}

// SampleRequest is one measurement a tuner made of a configuration.
type SampleRequest struct {
	Functions map[string]Resources `json:"functions"`
	LatencyMs float64              `json:"latencyMs"`
	CostUSD   float64              `json:"costUsd"`
}

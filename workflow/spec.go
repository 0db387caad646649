package workflow

import "time"

// APIVersion is the only apiVersion a workflow document may declare.
const APIVersion = "baton.dev/v1"

// KindWorkflow is the only kind a workflow document may declare.
const KindWorkflow = "Workflow"

// Workflow is one parsed and validated workflow document.
type Workflow struct {
	// APIVersion is always APIVersion ("baton.dev/v1") after Parse.
	APIVersion string
	// Kind is always KindWorkflow ("Workflow") after Parse.
	Kind string
	// Metadata names the workflow.
	Metadata Metadata
	// Spec is what the workflow runs.
	Spec Spec
}

// Metadata identifies a workflow.
type Metadata struct {
	// Name is a DNS label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
	Name string
}

// Spec is the body of a workflow: its QoS target, its time limit, its
// functions and its stages.
type Spec struct {
	// QoS is the end-to-end latency target; the zero value means none was given.
	QoS QoS
	// Timeout bounds a whole invocation, retries and fan-out included
	// (YAML spec.timeout, e.g. "30s"); zero means no workflow time limit
	// beyond the caller's.
	Timeout time.Duration
	// Queue bounds each of the workflow's functions' queues, over the
	// orchestrator's --max-queue and --max-queue-wait (YAML spec.queue);
	// zero fields keep the orchestrator's.
	Queue Queue
	// Network is what the workflow's sandboxes may reach besides the
	// orchestrator's calls to them (YAML spec.network); the zero value
	// is no egress at all.
	Network Network
	// Functions maps a function name (a DNS label) to its definition;
	// Function.Name equals its key.
	Functions map[string]*Function
	// Stages are the DAG's nodes in declared order.
	Stages []*Stage
}

// QoS is an end-to-end latency target: Percentile percent of invocations
// should finish within Latency. The block is optional in YAML; when present
// both fields are required. The zero value means "no target".
type QoS struct {
	// Latency is the target, > 0 (YAML "1500ms", "2s").
	Latency time.Duration
	// Percentile is in the open interval (0, 100), e.g. 95 or 99.9.
	Percentile float64
}

// IsZero reports whether no QoS target was given.
func (q QoS) IsZero() bool { return q.Latency == 0 && q.Percentile == 0 }

// Function is a deployable function: an OCI image with its resources.
type Function struct {
	// Name is the function's key in spec.functions.
	Name string
	// Image is the OCI image reference as written; required. A reference
	// under baton.local names a local image (imported from an archive on
	// each worker); any other is resolved against its registry at deploy.
	Image string
	// ImageAt is where the image is written in the document, for messages
	// about it found after parsing (a registry that does not know it).
	ImageAt Position
	// Resources are the function's CPU and memory: fixed values or auto.
	Resources Resources
	// ResourcesAt is where the resources are written, for messages about
	// them found after parsing (above the tenant's quota).
	ResourcesAt Position
	// Bounds limit what the scheduler may choose; required for an auto
	// resource (bounds.cpu for cpu: auto, bounds.memory for memory: auto).
	Bounds *Bounds
	// Env is optional extra environment for the function's process.
	Env map[string]string
	// Idempotent says that calling the function twice with one input does
	// no harm, so a call cut short by a lost worker may be made again on
	// another sandbox. Without it a call is repeated only when it cannot
	// have reached the function. YAML: idempotent: true.
	Idempotent bool
	// Security is what the function's sandboxes are granted beyond the
	// hardening every sandbox runs under (YAML security); the zero value
	// grants nothing. The operator must allow each grant, or a deploy
	// asking for it is refused.
	Security Security
}

// Queue bounds a function's queue of requests waiting for a sandbox:
// beyond MaxWaiting requests, or once one has waited MaxWait, a request is
// refused with 503 and Retry-After.
type Queue struct {
	MaxWaiting int
	MaxWait    time.Duration
}

// MaxQueueWaiting is the largest spec.queue.maxWaiting a document may ask
// for.
const MaxQueueWaiting = 100000

// Network is what a workflow's sandboxes may reach besides the
// orchestrator's calls to them. YAML: spec.network: {egress: none|internet}.
type Network struct {
	// Egress is EgressNone (the zero value "" means the same) or
	// EgressInternet.
	Egress Egress
	// EgressAt is where egress is written in the document, for messages
	// about it found after parsing (a cluster that does not allow it);
	// zero when it is not written.
	EgressAt Position
}

// Internet reports whether the workflow's sandboxes may open connections
// to public internet addresses.
func (n Network) Internet() bool { return n.Egress == EgressInternet }

// Egress is where a workflow's sandboxes may open connections to.
type Egress string

// The egress a workflow may declare with spec.network.egress.
const (
	// EgressNone (the default): a sandbox has no route beyond its bridge
	// and reaches nothing; it only answers the orchestrator's calls.
	EgressNone Egress = "none"
	// EgressInternet: a sandbox may open connections to public addresses
	// (through the worker's NAT). Private, link-local, loopback and
	// multicast ranges, the worker's host itself and other sandboxes
	// stay out of reach.
	EgressInternet Egress = "internet"
)

// Security is what a function's sandboxes are granted beyond the hardening
// every sandbox runs under. YAML, under a function:
//
//	security:
//	  capabilities: [NET_BIND_SERVICE]   # Linux capabilities, without CAP_
//	  runAsRoot: true                    # uid 0 instead of the image's user
//
// The keys privileged and hostPaths are understood only to be refused:
// Baton runs no privileged sandboxes and mounts no host paths.
type Security struct {
	// Capabilities are Linux capability names without the CAP_ prefix
	// (NET_BIND_SERVICE), each once, in the order written.
	Capabilities []string
	// CapabilitiesAt is where each capability is written (parallel to
	// Capabilities), for messages found after parsing.
	CapabilitiesAt []Position
	// RunAsRoot runs the function as uid 0. Without it the function runs
	// as its image's USER, or as an unprivileged uid when that is root or
	// not given.
	RunAsRoot bool
	// RunAsRootAt is where runAsRoot is written; zero when it is not.
	RunAsRootAt Position
}

// IsZero reports whether s grants nothing.
func (s Security) IsZero() bool { return len(s.Capabilities) == 0 && !s.RunAsRoot }

// Position is a 1-based line and column in a workflow document.
type Position struct {
	Line, Col int
}

// Resources are a function's CPU and memory settings.
type Resources struct {
	// CPU is fixed millicores or auto.
	CPU CPU
	// Memory is fixed bytes or auto.
	Memory Memory
}

// CPU is a CPU quantity: either Auto (the scheduler chooses within bounds)
// or a fixed number of millicores > 0.
type CPU struct {
	// Auto is true for "auto"; Milli is then zero.
	Auto bool
	// Milli is the fixed amount in millicores (1000 = one core).
	Milli int64
}

// Memory is a memory quantity: either Auto (the scheduler chooses within
// bounds) or a fixed number of bytes > 0.
type Memory struct {
	// Auto is true for "auto"; Bytes is then zero.
	Auto bool
	// Bytes is the fixed amount in bytes.
	Bytes int64
}

// Bounds are the inclusive ranges the scheduler may choose from for auto
// resources. A zero pair means that bound was not given.
// YAML: {cpu: [250m, 2000m], memory: [128Mi, 1Gi]}; low <= high.
type Bounds struct {
	// CPUMilli is [low, high] in millicores.
	CPUMilli [2]int64
	// MemoryBytes is [low, high] in bytes.
	MemoryBytes [2]int64
}

// OnError says what a stage's failure does to its invocation.
type OnError string

// The failure policies a stage may declare with onError.
const (
	// OnErrorFail (the default) fails the invocation when the stage fails
	// after its retries; stages still running are cancelled.
	OnErrorFail OnError = "fail"
	// OnErrorContinue lets the invocation go on: the failed stage's output
	// (for a foreach stage, the failed element's) becomes an error value
	// {"error": {"stage": NAME, "message": TEXT}} that the next stage can test,
	// e.g. with when: "!has(input.error)".
	OnErrorContinue OnError = "continue"
)

// Stage is one node of the workflow DAG: it runs a function on its input.
//
// The YAML fields of a stage are:
//
//	name:        a DNS label, unique in the workflow (required)
//	function:    a key of spec.functions (required)
//	needs:       [stage, ...] whose outputs make this stage's input
//	foreach:     PATH, a dotted path to a JSON array in the input ("frames",
//	             "data.items"), or "." when the input itself is the array;
//	             the stage runs once per element and gathers the outputs, in
//	             order, into an array (an empty array gives an empty array)
//	maxParallel: at most this many elements of a foreach run at once
//	when:        a CEL expression over `input` (the stage input as JSON);
//	             the stage runs only when it is true, else it is skipped
//	             and its output is null
//	timeout:     bounds each attempt ("5s")
//	retries:     retries after a failed attempt, 0..10, with exponential
//	             backoff and full jitter
//	onError:     fail (default) or continue; see OnError
//
// A stage all of whose needs were skipped is skipped too.
type Stage struct {
	// Name is the stage's unique name (a DNS label).
	Name string
	// Function names an entry of Spec.Functions.
	Function string
	// Needs are the names of the stages whose outputs this stage consumes.
	Needs []string
	// Foreach, when set, is a dotted path into the stage input (which must be
	// a JSON object), e.g. "frames" or "data.items"; the stage fans out over
	// the JSON array found there and gathers the outputs, in order, into an array.
	Foreach string
	// Timeout bounds each attempt (each element's attempt for a foreach
	// stage); zero means no per-attempt timeout.
	Timeout time.Duration
	// Retries is how many times a failed attempt is retried, 0..10.
	Retries int
	// MaxParallel bounds the concurrent elements of a foreach stage; zero
	// means the Engine's MaxParallel. Only valid with Foreach.
	MaxParallel int
	// When is a CEL expression over the variable input (the stage input
	// decoded from JSON); the stage runs only when it evaluates to true.
	// Empty means always. Parse compiles it, so a typo is a deploy error.
	When string
	// OnError is the failure policy; empty means OnErrorFail.
	OnError OnError

	// condition is When compiled by Parse; nil for hand-built stages, which
	// the engine compiles per run.
	condition *condition
}

// MaxRetries is the largest Stage.Retries a document may ask for.
const MaxRetries = 10

// MinCPUMilli and MinMemoryBytes are the least one sandbox of the
// function may be given: the fixed value, or the lower bound of an auto
// resource.
func (f *Function) MinCPUMilli() int64 {
	if f.Resources.CPU.Auto && f.Bounds != nil {
		return f.Bounds.CPUMilli[0]
	}
	return f.Resources.CPU.Milli
}

// MinMemoryBytes: see MinCPUMilli.
func (f *Function) MinMemoryBytes() int64 {
	if f.Resources.Memory.Auto && f.Bounds != nil {
		return f.Bounds.MemoryBytes[0]
	}
	return f.Resources.Memory.Bytes
}

// DefaultCPUMilli returns the CPU to use when nothing else decided: the fixed
// value, or for auto the upper CPU bound (0 when bounds are missing).
func (f *Function) DefaultCPUMilli() int64 {
	if f == nil {
		return 0
	}
	if !f.Resources.CPU.Auto {
		return f.Resources.CPU.Milli
	}
	if f.Bounds == nil {
		return 0
	}
	return f.Bounds.CPUMilli[1]
}

// DefaultMemoryBytes returns the memory to use when nothing else decided: the
// fixed value, or for auto the upper memory bound (0 when bounds are missing).
func (f *Function) DefaultMemoryBytes() int64 {
	if f == nil {
		return 0
	}
	if !f.Resources.Memory.Auto {
		return f.Resources.Memory.Bytes
	}
	if f.Bounds == nil {
		return 0
	}
	return f.Bounds.MemoryBytes[1]
}

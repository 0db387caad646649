// Package protocol defines the messages and NATS subjects between the
// orchestrator and the workers. Both sides import it; it imports nothing of
// Baton's but worker's sandbox types.
package protocol

import (
	"fmt"
	"time"

	"baton.dev/baton/worker"
)

// Subjects. A worker listens on its own command subjects; heartbeats go to
// one subject that the orchestrator subscribes to.
const (
	// HeartbeatSubject carries Heartbeat messages from every worker.
	HeartbeatSubject = "baton.heartbeat"
)

// CreateSubject is where a worker accepts CreateRequest.
func CreateSubject(workerID string) string { return fmt.Sprintf("baton.worker.%s.create", workerID) }

// DeleteSubject is where a worker accepts DeleteRequest.
func DeleteSubject(workerID string) string { return fmt.Sprintf("baton.worker.%s.delete", workerID) }

// ListSubject is where a worker answers with its sandboxes.
func ListSubject(workerID string) string { return fmt.Sprintf("baton.worker.%s.list", workerID) }

// VerifySubject is where a worker checks that a connection ends in one of
// its sandboxes (VerifyRequest).
func VerifySubject(workerID string) string { return fmt.Sprintf("baton.worker.%s.verify", workerID) }

// VerifyRequest asks a worker whether Conn ends in sandbox ID
// (worker.Runtime.Verify). The orchestrator sends it for every connection
// it dials to a sandbox, before the connection carries any input.
type VerifyRequest struct {
	ID   string      `json:"id"`
	Conn worker.Conn `json:"conn"`
}

// VerifyReply answers a VerifyRequest: no Error means the connection is
// the sandbox's.
type VerifyReply struct {
	Error *Error `json:"error,omitempty"`
}

// CreateRequest asks a worker to start one sandbox.
type CreateRequest struct {
	Spec worker.SandboxSpec `json:"spec"`
}

// CreateReply answers a CreateRequest: a Sandbox, or an Error.
type CreateReply struct {
	Sandbox *worker.Sandbox `json:"sandbox,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// DeleteRequest asks a worker to remove one sandbox.
type DeleteRequest struct {
	ID string `json:"id"`
}

// DeleteReply answers a DeleteRequest.
type DeleteReply struct {
	Error *Error `json:"error,omitempty"`
}

// ListReply answers a list request (whose body is empty).
type ListReply struct {
	Sandboxes []worker.Sandbox `json:"sandboxes"`
	Error     *Error           `json:"error,omitempty"`
}

// Error codes that let the orchestrator tell failures apart without
// parsing messages.
const (
	CodeImageNotFound = "image_not_found"
	CodeUnhealthy     = "unhealthy"
	CodeNotFound      = "not_found"
	CodeExists        = "exists"
	CodeIdentity      = "identity"
	CodePull          = "pull_failed"
	CodeBadRequest    = "bad_request"
	CodeInternal      = "internal"
)

// Error is a failure reported by a worker.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is the worker's message. A reply whose error carries no message (a
// worker never sends one, but a malformed or foreign reply may) still gives
// a text, naming the code, so that the failure does not read as blank.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("worker error %q with no message", e.Code)
	}
	return e.Message
}

// Heartbeat is published by every worker at a fixed interval. It carries
// enough for placement (capacity and allocation) and for deploy-time
// checks (the images the worker can start).
type Heartbeat struct {
	WorkerID string `json:"workerId"`
	Runtime  string `json:"runtime"`
	// CPUMilli and MemoryBytes are the worker's capacity for sandboxes.
	CPUMilli    int64 `json:"cpuMilli"`
	MemoryBytes int64 `json:"memoryBytes"`
	// AllocatedCPUMilli and AllocatedMemoryBytes sum the limits of the
	// sandboxes the worker runs now.
	AllocatedCPUMilli    int64 `json:"allocatedCpuMilli"`
	AllocatedMemoryBytes int64 `json:"allocatedMemoryBytes"`
	Sandboxes            int   `json:"sandboxes"`
	// Images are the local images (baton.local/…) the worker can start;
	// images pulled from registries are not listed.
	Images []string  `json:"images"`
	Sent   time.Time `json:"sent"`
	// Interval is how often the worker sends heartbeats; the orchestrator
	// declares a worker dead after a few missed ones.
	Interval time.Duration `json:"interval"`
	// Incarnation is new at every start of the worker; Machine names the
	// machine it runs on.
	Incarnation string `json:"incarnation,omitempty"`
	Machine     string `json:"machine,omitempty"`
	// Reclaimed lists the incarnations of dead workers on this machine
	// whose sandboxes this worker removed (or adopted) when it started:
	// the orchestrator stops counting them as stranded.
	Reclaimed []string `json:"reclaimed,omitempty"`
}

package protocol

import (
	"fmt"

	"baton.dev/baton/worker"
)

// ExitSubject is where a worker says why one of its sandboxes stopped
// answering (ExitRequest).
func ExitSubject(workerID string) string { return fmt.Sprintf("baton.worker.%s.exit", workerID) }

// ExitRequest asks a worker why sandbox ID's function stopped answering
// (worker.ExitReporter). The orchestrator sends it only after a call to
// the sandbox failed without an answer, before it deletes the sandbox.
type ExitRequest struct {
	ID string `json:"id"`
}

// ExitReply answers an ExitRequest: the reason (zero when the worker's
// runtime cannot tell), or an Error.
type ExitReply struct {
	Reason worker.ExitReason `json:"reason"`
	Error  *Error            `json:"error,omitempty"`
}

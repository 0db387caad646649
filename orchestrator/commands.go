package orchestrator

import (
	"context"
	"time"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker"
)

// WorkerCommands is what the Router asks of the workers: reservations on
// the placement view and the sandbox commands. *Workers carries them out
// over NATS; the router's tests use a recording fake.
type WorkerCommands interface {
	// Reserve places req (decide.Place) and reserves it on the worker
	// chosen; ReserveOn reserves on a given worker (an adopted sandbox);
	// Release gives a reservation back.
	Reserve(req decide.PlacementRequest, now time.Time) (string, error)
	ReserveOn(workerID string, req decide.PlacementRequest)
	Release(workerID string, req decide.PlacementRequest)
	// Suspect leaves a worker that did not answer out of placement until
	// the time given.
	Suspect(workerID string, until time.Time)
	// SendCreate asks a worker to start a sandbox without waiting.
	SendCreate(workerID string, spec worker.SandboxSpec) (CreateCall, error)
	Delete(ctx context.Context, workerID, sandboxID string) error
	// Verify asks a worker whether conn ends in its sandbox
	// (worker.Runtime.Verify).
	Verify(ctx context.Context, workerID, sandboxID string, conn worker.Conn) error
}

// CreateCall is a creation sent to a worker: Wait for its answer, then
// read it with Result.
type CreateCall interface {
	// Wait waits for the worker's answer, until ctx ends or at most
	// timeout (then an error wrapping context.DeadlineExceeded). The
	// timeout is Wait's, not a context's of the caller: a context with a
	// deadline for each creation in flight registers with their shared
	// parent, whose lock and map of children were 5% of a burst's CPU.
	Wait(ctx context.Context, timeout time.Duration) error
	Result() (worker.Sandbox, error)
}

var _ WorkerCommands = (*Workers)(nil)

package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/protocol"
)

// List asks a worker for the sandboxes it runs.
func (w *Workers) List(ctx context.Context, workerID string) ([]worker.Sandbox, error) {
	var reply protocol.ListReply
	if err := w.request(ctx, protocol.ListSubject(workerID), struct{}{}, &reply); err != nil {
		return nil, err
	}
	if reply.Error != nil {
		return nil, fmt.Errorf("worker %s: %w", workerID, reply.Error)
	}
	return reply.Sandboxes, nil
}

// PendingCreate is a creation sent to a worker: Wait for its answer, then
// read it with Result.
type PendingCreate struct {
	workerID string
	reply    *pendingReply
	msg      *nats.Msg
}

// SendCreate asks a worker to start a sandbox without waiting for the
// reply. Sending (encoding, publishing) and reading the answer (Result)
// are the creation's work on the orchestrator's CPU; waiting is not.
func (w *Workers) SendCreate(workerID string, spec worker.SandboxSpec) (CreateCall, error) {
	subject := protocol.CreateSubject(workerID)
	// By hand, not encoding/json: the same bytes at a sixth of the CPU.
	// Into a buffer sized for a usual request (about 200 bytes), so that
	// it is one allocation rather than one per doubling from nothing.
	data, err := protocol.AppendCreateRequest(make([]byte, 0, createRequestSize), protocol.CreateRequest{Spec: spec, Term: w.term})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", subject, err)
	}
	p, err := w.replies.send(subject, data)
	if err != nil {
		return nil, err
	}
	return &PendingCreate{workerID: workerID, reply: p}, nil
}

// createRequestSize is the room SendCreate gives a creation request up
// front: one with a few environment variables fits.
const createRequestSize = 512

// Wait waits for the worker's answer to a creation, until ctx ends or at
// most timeout.
func (pc *PendingCreate) Wait(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	msg, err := pc.reply.waitFor(ctx, t.C)
	pc.msg = msg
	return err
}

// Result decodes the answer Wait received.
func (pc *PendingCreate) Result() (worker.Sandbox, error) {
	workerID := pc.workerID
	if pc.msg == nil {
		return worker.Sandbox{}, fmt.Errorf("worker %s: no answer to %s yet", workerID, pc.reply.subject)
	}
	var reply protocol.CreateReply
	if err := protocol.DecodeCreateReply(pc.msg.Data, &reply); err != nil {
		return worker.Sandbox{}, fmt.Errorf("decode reply to %s: %w", pc.reply.subject, err)
	}
	if reply.Error != nil {
		return worker.Sandbox{}, fmt.Errorf("worker %s: %w", workerID, reply.Error)
	}
	if reply.Sandbox == nil {
		return worker.Sandbox{}, fmt.Errorf("worker %s: create reply has no sandbox", workerID)
	}
	return *reply.Sandbox, nil
}

// Delete asks a worker to remove a sandbox.
func (w *Workers) Delete(ctx context.Context, workerID, sandboxID string) error {
	var reply protocol.DeleteReply
	if err := w.request(ctx, protocol.DeleteSubject(workerID), protocol.DeleteRequest{ID: sandboxID, Term: w.term}, &reply); err != nil {
		return err
	}
	if reply.Error != nil {
		return fmt.Errorf("worker %s: %w", workerID, reply.Error)
	}
	return nil
}

// Verify asks a worker whether conn ends in its sandbox sandboxID
// (worker.Runtime.Verify). An error wraps worker.ErrIdentity when it does
// not.
func (w *Workers) Verify(ctx context.Context, workerID, sandboxID string, conn worker.Conn) error {
	var reply protocol.VerifyReply
	if err := w.request(ctx, protocol.VerifySubject(workerID), protocol.VerifyRequest{ID: sandboxID, Conn: conn}, &reply); err != nil {
		return fmt.Errorf("worker %s: check a connection to sandbox %s: %w", workerID, sandboxID, err)
	}
	if reply.Error != nil {
		return fmt.Errorf("worker %s: %w", workerID, reply.Error)
	}
	return nil
}

// Exit asks a worker why its sandbox sandboxID stopped answering
// (worker.ExitReporter): the zero reason when the worker cannot tell.
func (w *Workers) Exit(ctx context.Context, workerID, sandboxID string) (worker.ExitReason, error) {
	var reply protocol.ExitReply
	if err := w.request(ctx, protocol.ExitSubject(workerID), protocol.ExitRequest{ID: sandboxID}, &reply); err != nil {
		return worker.ExitReason{}, fmt.Errorf("worker %s: ask why sandbox %s stopped answering: %w", workerID, sandboxID, err)
	}
	if reply.Error != nil {
		return worker.ExitReason{}, fmt.Errorf("worker %s: %w", workerID, reply.Error)
	}
	return reply.Reason, nil
}

// request sends req to subject and decodes the answer into reply. Every
// request to workers goes through the one reply subscription (replyMux).
func (w *Workers) request(ctx context.Context, subject string, req, reply any) error {
	p, err := w.send(subject, req)
	if err != nil {
		return err
	}
	msg, err := p.wait(ctx)
	if err != nil {
		return err
	}
	return decodeReply(msg, subject, reply)
}

// send encodes req and publishes it to subject without waiting.
func (w *Workers) send(subject string, req any) (*pendingReply, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", subject, err)
	}
	return w.replies.send(subject, data)
}

// decodeReply decodes a worker's answer to subject into reply.
func decodeReply(msg *nats.Msg, subject string, reply any) error {
	if err := json.Unmarshal(msg.Data, reply); err != nil {
		return fmt.Errorf("decode reply to %s: %w", subject, err)
	}
	return nil
}

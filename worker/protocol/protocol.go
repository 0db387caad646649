// Package protocol defines the messages and NATS subjects between the
// orchestrator and the workers. Both sides import it; it imports nothing of
// Baton's but worker's sandbox types.
package protocol

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"baton.dev/baton/worker"
)

// Subjects. A worker listens on its own command subjects and publishes its
// heartbeats on a subject of its own, so the bus's permissions (see
// package natsauth) can hold a worker to its own subjects; the
// orchestrator subscribes to every worker's heartbeats at once.
const (
	// HeartbeatSubjects matches every worker's HeartbeatSubject.
	HeartbeatSubjects = heartbeatPrefix + "*"
	heartbeatPrefix   = "baton.heartbeat."
)

// HeartbeatSubject is where worker workerID publishes its Heartbeats.
func HeartbeatSubject(workerID string) string { return heartbeatPrefix + workerID }

// DecodeHeartbeat reads a heartbeat received on subject. A heartbeat that
// names another worker than its subject does is refused: a worker may
// speak only for itself (the bus lets it publish on its own subject only).
func DecodeHeartbeat(subject string, data []byte) (Heartbeat, error) {
	var hb Heartbeat
	if err := unmarshalHeartbeat(data, &hb); err != nil {
		return Heartbeat{}, fmt.Errorf("heartbeat on %s: %w", subject, err)
	}
	if hb.WorkerID == "" {
		return Heartbeat{}, fmt.Errorf("heartbeat on %s: no workerId", subject)
	}
	if subject != HeartbeatSubject(hb.WorkerID) {
		return Heartbeat{}, fmt.Errorf("heartbeat on %s names worker %q: a worker's heartbeats go on its own subject", subject, hb.WorkerID)
	}
	return hb, nil
}

// Beat is the short form of a heartbeat, sent between full ones by a
// worker whose state has not changed since the last (see
// daemon.Config.FullHeartbeatEvery): it says the worker is alive, which
// incarnation, and when it was sent; the rest is the last full
// heartbeat's. An orchestrator that has not had that one ignores it
// until the next. On the wire it is "~", the send time in Unix
// nanoseconds, a space and the incarnation: decoding it costs a
// fraction of a JSON heartbeat's, which dominates an orchestrator's
// idle work at 10,000 workers (50,000 heartbeats a second).
type Beat struct {
	WorkerID    string
	Incarnation string
	Sent        time.Time
}

// beatMark starts a Beat on the wire; a full heartbeat starts with '{'.
const beatMark = '~'

// IsBeat reports whether a message on a heartbeat subject is a Beat.
func IsBeat(data []byte) bool { return len(data) > 0 && data[0] == beatMark }

// EncodeBeat appends b's wire form to dst. The worker ID is the
// subject's.
func EncodeBeat(dst []byte, b Beat) []byte {
	dst = append(dst, beatMark)
	dst = strconv.AppendInt(dst, b.Sent.UnixNano(), 10)
	dst = append(dst, ' ')
	return append(dst, b.Incarnation...)
}

// DecodeBeat reads a Beat received on subject, whose last token names
// the worker (the bus lets a worker publish on its own subject only).
func DecodeBeat(subject string, data []byte) (Beat, error) {
	id, ok := strings.CutPrefix(subject, heartbeatPrefix)
	if !ok || id == "" {
		return Beat{}, fmt.Errorf("beat on %s: not a heartbeat subject", subject)
	}
	if !IsBeat(data) {
		return Beat{}, fmt.Errorf("beat on %s: does not start with %q", subject, beatMark)
	}
	sent, inc, ok := bytes.Cut(data[1:], []byte{' '})
	if !ok {
		return Beat{}, fmt.Errorf("beat on %s: no space after the send time", subject)
	}
	ns, err := strconv.ParseInt(string(sent), 10, 64)
	if err != nil {
		return Beat{}, fmt.Errorf("beat on %s: send time: %w", subject, err)
	}
	return Beat{WorkerID: id, Incarnation: string(inc), Sent: time.Unix(0, ns)}, nil
}

// workerIDRE is what a worker ID may be: one NATS subject token (no '.',
// no wildcard), short enough for subjects and logs.
var workerIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// CheckWorkerID says what is wrong with a worker ID, if anything. An ID
// with a '.' or a wildcard would make the worker's subjects match other
// workers' ("*" would subscribe to every worker's commands).
func CheckWorkerID(id string) error {
	if !workerIDRE.MatchString(id) {
		return fmt.Errorf("worker ID %q: want 1 to 63 letters, digits, '-' and '_', starting with a letter or digit (it is a NATS subject token)", id)
	}
	return nil
}

// WorkerSubjects matches every command subject of worker workerID.
func WorkerSubjects(workerID string) string { return fmt.Sprintf("baton.worker.%s.>", workerID) }

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

// CreateRequest asks a worker to start one sandbox. Term is the sending
// orchestrator's leadership term (zero: an orchestrator that is not
// replicated); a worker refuses a term older than the newest it has seen
// (worker.ErrStaleTerm), so a deposed leader cannot act.
type CreateRequest struct {
	Spec worker.SandboxSpec `json:"spec"`
	Term uint64             `json:"term,omitempty"`
}

// CreateReply answers a CreateRequest: a Sandbox, or an Error.
type CreateReply struct {
	Sandbox *worker.Sandbox `json:"sandbox,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// DeleteRequest asks a worker to remove one sandbox; Term is as in
// CreateRequest.
type DeleteRequest struct {
	ID   string `json:"id"`
	Term uint64 `json:"term,omitempty"`
}

// LeaderSubject is where the leading orchestrator replica announces its
// term (LeaderAnnouncement) at every renewal of its lease, so that every
// worker learns a new term before a deposed leader can reach it.
const LeaderSubject = "baton.leader"

// LeaderAnnouncement is published on LeaderSubject.
type LeaderAnnouncement struct {
	Replica string `json:"replica"`
	Term    uint64 `json:"term"`
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
	CodeStaleTerm     = "stale_term"
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
	// CPUMilli and MemoryBytes are the worker's capacity for sandboxes:
	// placement never reserves more. CPUMilli counts the CPU over-commit
	// the worker allows, CPUAllocationRatio (CPU offered times it).
	CPUMilli           int64   `json:"cpuMilli"`
	MemoryBytes        int64   `json:"memoryBytes"`
	CPUAllocationRatio float64 `json:"cpuAllocationRatio,omitempty"`
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

package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/protocol"
)

// missedHeartbeats is how many heartbeat intervals may pass before a worker
// is taken for dead: with the default 200 ms beat, 800 ms, so a dead
// worker is noticed within 900 ms by a sweep every 100 ms.
const missedHeartbeats = 4

// maxBehind caps the grace the sweep gives for the orchestrator's own
// backlog of heartbeats (see Workers.behind).
const maxBehind = time.Second

// Workers tracks the workers that send heartbeats and the resources the
// orchestrator has reserved on each, and sends them sandbox commands.
type Workers struct {
	nc      *nats.Conn
	replies *replyMux // every request's replies
	mu      sync.Mutex
	m       map[string]*workerEntry
	list    []*workerEntry // the entries of m, for allocation-free scans
	// view is the snapshot Reserve places on, kept between calls so that
	// a placement does not copy every worker: the workers placeable when
	// it was built, their reservations and capacity patched in place
	// (sync). viewOf[i] is view[i]'s entry. A change of who is placeable
	// (a worker new, dead, revived, suspect, or heard from while left
	// out) clears viewOK and the next Reserve builds it again; a worker
	// gone quiet since is caught when chosen. viewUntil is when the first
	// worker left out as suspect comes back; viewQuiet says a worker was
	// left out as quiet but not dead, whom more grace (behind) may bring
	// back.
	view      []decide.WorkerState
	viewOf    []*workerEntry
	viewOK    bool
	viewUntil time.Time
	viewQuiet bool
	// behind is how much later than usual the latest heartbeat was
	// handled: the orchestrator's own backlog (a burst of work), not the
	// worker's lateness. The sweep adds it to a worker's grace, so that
	// an orchestrator behind on its heartbeats declares no live worker
	// dead. At most maxBehind.
	behind time.Duration
	// stranded are the sandboxes of dead workers, by the incarnation that
	// ran them, until a worker starting on the same machine reports that
	// it removed them (Heartbeat.Reclaimed) or the incarnation comes back.
	// reclaimed remembers the incarnations reported so, so that one
	// reported before it was declared dead is not counted afterwards.
	stranded  map[string]stranded
	reclaimed map[string]bool
}

// stranded is what a dead worker incarnation left running.
type stranded struct {
	workerID, machine string
	sandboxes         int
}

type workerEntry struct {
	id          string
	hb          protocol.Heartbeat
	seen        time.Time
	reservedCPU int64
	reservedMem int64
	dead        bool      // declared dead by Sweep; a heartbeat revives it
	draining    bool      // takes no new sandboxes
	suspectTill time.Time // left out of placement until then (did not answer)
	// transit is the usual time from a heartbeat's Sent to its handling
	// (network plus the clock offset), the baseline of behind: the
	// shortest seen, creeping up towards later ones so that a worker
	// clock stepped back is absorbed within seconds instead of granting
	// every worker extra grace for good.
	transit time.Duration
	slot    int // index in Workers.view, or -1
}

// NewWorkers returns an empty table that talks to workers over nc.
func NewWorkers(nc *nats.Conn) *Workers {
	return &Workers{nc: nc, m: map[string]*workerEntry{}, replies: &replyMux{nc: nc},
		stranded: map[string]stranded{}, reclaimed: map[string]bool{}}
}

// Observe records a heartbeat. It reports whether the worker is new to
// this table or back after being declared dead (fresh): its sandboxes are
// then unknown to the router and must be adopted or removed. restarted
// says the worker started again (a new incarnation) before it was
// declared dead: the sandboxes the router knows on it are gone or are
// the new incarnation's to report, so the router drops them before it
// adopts the new list.
func (w *Workers) Observe(hb protocol.Heartbeat, now time.Time) (fresh, restarted bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[hb.WorkerID]
	switch {
	case !ok:
		e = &workerEntry{id: hb.WorkerID, slot: -1}
		w.m[hb.WorkerID] = e
		w.list = append(w.list, e)
		fresh = true
	case e.dead, e.hb.Incarnation != hb.Incarnation:
		// Reservations start from nothing: the router forgot the
		// sandboxes of a dead worker and re-reserves what it adopts.
		restarted = !e.dead
		*e = workerEntry{id: hb.WorkerID, slot: -1}
		fresh = true
	}
	e.hb, e.seen = hb, now
	if len(hb.Reclaimed) > 0 || len(w.stranded) > 0 {
		w.reclaimLocked(hb)
	}
	if e.slot < 0 {
		w.viewOK = false
	} else {
		w.sync(e)
	}
	if !hb.Sent.IsZero() {
		d := now.Sub(hb.Sent)
		// The first heartbeat or a faster one sets the baseline; a
		// later one raises it by a sixteenth of the difference.
		if fresh || d < e.transit {
			e.transit = d
		} else {
			e.transit += (d - e.transit) / 16
		}
		behind := min(d-e.transit, maxBehind)
		if behind > w.behind && w.viewQuiet {
			w.viewOK = false
		}
		w.behind = behind
	}
	return fresh, restarted
}

// Sweep declares dead the workers whose heartbeats stopped and returns
// them.
func (w *Workers) Sweep(now time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var dead []string
	for id, e := range w.m {
		if !e.dead && !e.alive(now, w.behind) {
			e.dead = true
			w.viewOK = false
			dead = append(dead, id)
		}
	}
	sort.Strings(dead)
	return dead
}

// reclaimLocked stops counting as stranded the sandboxes of the
// incarnations hb's worker removed or adopted at its start, and those of
// hb's own incarnation (a worker declared dead that was not).
func (w *Workers) reclaimLocked(hb protocol.Heartbeat) {
	for _, inc := range hb.Reclaimed {
		if !w.reclaimed[inc] {
			w.reclaimed[inc] = true
			delete(w.stranded, inc)
		}
	}
	delete(w.stranded, hb.Incarnation)
}

// Strand records that a worker declared dead left sandboxes running: at
// least routed (those the router dropped), or as many as its last
// heartbeat counted. They stay stranded until a worker starting on the
// same machine reclaims them.
func (w *Workers) Strand(workerID string, routed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[workerID]
	if !ok {
		return
	}
	n := max(routed, e.hb.Sandboxes)
	inc := e.hb.Incarnation
	if n == 0 || w.reclaimed[inc] || e.hb.Runtime == "fake" {
		return
	}
	if inc == "" {
		inc = "worker:" + workerID // a worker too old to name its incarnation
	}
	w.stranded[inc] = stranded{workerID: workerID, machine: e.hb.Machine, sandboxes: n}
}

// Stranded returns how many sandboxes dead workers left running that no
// worker has reclaimed yet.
func (w *Workers) Stranded() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.stranded {
		n += s.sandboxes
	}
	return n
}

// Drain stops or resumes placing new sandboxes on a worker. It reports
// whether the worker is known.
func (w *Workers) Drain(id string, drain bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[id]
	if ok {
		e.draining = drain
		w.sync(e)
	}
	return ok
}

// Suspect leaves a worker out of placement until the given time.
func (w *Workers) Suspect(id string, until time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.m[id]; ok {
		e.suspectTill = until
		w.viewOK = false
	}
}

// ReserveOn books req on a given worker (an adopted sandbox).
func (w *Workers) ReserveOn(id string, req decide.PlacementRequest) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.m[id]; ok {
		e.reservedCPU += req.CPUMilli
		e.reservedMem += req.MemoryBytes
		w.sync(e)
	}
}

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

// alive reports whether the worker's last heartbeat is recent enough,
// with grace for the orchestrator's own backlog.
func (e *workerEntry) alive(now time.Time, grace time.Duration) bool {
	iv := e.hb.Interval
	if iv <= 0 {
		iv = time.Second
	}
	return now.Sub(e.seen) <= missedHeartbeats*iv+grace
}

// Snapshot returns the live workers for placement.
func (w *Workers) Snapshot(now time.Time) []decide.WorkerState {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.appendLiveLocked(make([]decide.WorkerState, 0, len(w.m)), now)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (w *Workers) appendLiveLocked(out []decide.WorkerState, now time.Time) []decide.WorkerState {
	for _, e := range w.list {
		if e.placeable(now, w.behind) {
			out = append(out, e.state())
		}
	}
	return out
}

// placeable reports whether placement may choose the worker: alive and
// not set aside. (A draining worker is placeable; Place skips it.)
func (e *workerEntry) placeable(now time.Time, grace time.Duration) bool {
	return !e.dead && e.alive(now, grace) && !now.Before(e.suspectTill)
}

// state is the worker as placement sees it.
func (e *workerEntry) state() decide.WorkerState {
	return decide.WorkerState{
		ID: e.id, CPUMilli: e.hb.CPUMilli, MemoryBytes: e.hb.MemoryBytes,
		ReservedCPUMilli: e.reservedCPU, ReservedMemoryBytes: e.reservedMem, Draining: e.draining,
	}
}

// buildView makes the placement view of the workers placeable at now.
func (w *Workers) buildView(now time.Time) {
	w.view, w.viewOf = w.view[:0], w.viewOf[:0]
	w.viewUntil, w.viewQuiet = time.Time{}, false
	for _, e := range w.list {
		e.slot = -1
		switch {
		case e.placeable(now, w.behind):
			e.slot = len(w.view)
			w.view = append(w.view, e.state())
			w.viewOf = append(w.viewOf, e)
		case e.dead:
		case !e.alive(now, w.behind):
			w.viewQuiet = true
		case w.viewUntil.IsZero() || e.suspectTill.Before(w.viewUntil):
			w.viewUntil = e.suspectTill
		}
	}
	w.viewOK = true
}

// sync copies a changed entry into the placement view.
func (w *Workers) sync(e *workerEntry) {
	if w.viewOK && e.slot >= 0 {
		w.view[e.slot] = e.state()
	}
}

// Live counts the live workers.
func (w *Workers) Live(now time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.m {
		if !e.dead && e.alive(now, w.behind) {
			n++
		}
	}
	return n
}

// HasImage reports whether a live worker can start image, and the images
// the live workers have, for messages.
func (w *Workers) HasImage(image string, now time.Time) (bool, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var all []string
	for _, e := range w.m {
		if e.dead || !e.alive(now, w.behind) {
			continue
		}
		if slices.Contains(e.hb.Images, image) {
			return true, nil
		}
		all = append(all, e.hb.Images...)
	}
	slices.Sort(all)
	return false, slices.Compact(all)
}

// Reserve books req on a worker picked by Place.
func (w *Workers) Reserve(req decide.PlacementRequest, now time.Time) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Place decides on the kept view; what it chose is checked against
	// now. A choice gone stale, or no choice at all, is decided again on
	// a view built at now. Either way the decision is Place's over
	// Snapshot(now) (TestReserveDecidesAsPlaceOverSnapshot).
	for built := false; ; built = true {
		if !w.viewOK || (!w.viewUntil.IsZero() && !now.Before(w.viewUntil)) {
			w.buildView(now)
			built = true
		}
		i, err := decide.PlaceIndex(w.view, req)
		if err == nil && w.viewOf[i].placeable(now, w.behind) {
			e := w.viewOf[i]
			e.reservedCPU += req.CPUMilli
			e.reservedMem += req.MemoryBytes
			w.sync(e)
			return e.id, nil
		}
		if built {
			if err == nil { // cannot be: the view was built at now
				err = fmt.Errorf("place sandbox: worker %s chosen but not placeable", w.viewOf[i].id)
			}
			return "", err
		}
		w.viewOK = false
	}
}

// Release returns a reservation.
func (w *Workers) Release(workerID string, req decide.PlacementRequest) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.m[workerID]; ok {
		e.reservedCPU -= req.CPUMilli
		e.reservedMem -= req.MemoryBytes
		w.sync(e)
	}
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
func (w *Workers) SendCreate(workerID string, spec worker.SandboxSpec) (*PendingCreate, error) {
	p, err := w.send(protocol.CreateSubject(workerID), protocol.CreateRequest{Spec: spec})
	if err != nil {
		return nil, err
	}
	return &PendingCreate{workerID: workerID, reply: p}, nil
}

// Wait waits for the worker's answer to a creation.
func (pc *PendingCreate) Wait(ctx context.Context) error {
	msg, err := pc.reply.wait(ctx)
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
	if err := decodeReply(pc.msg, pc.reply.subject, &reply); err != nil {
		return worker.Sandbox{}, err
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
	if err := w.request(ctx, protocol.DeleteSubject(workerID), protocol.DeleteRequest{ID: sandboxID}, &reply); err != nil {
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

// WorkerView is a worker as the admin API shows it.
type WorkerView struct {
	ID                  string    `json:"id"`
	Runtime             string    `json:"runtime"`
	State               string    `json:"state"` // ready, draining, suspect or dead
	CPUMilli            int64     `json:"cpuMilli"`
	MemoryBytes         int64     `json:"memoryBytes"`
	ReservedCPUMilli    int64     `json:"reservedCpuMilli"`
	ReservedMemoryBytes int64     `json:"reservedMemoryBytes"`
	Sandboxes           int       `json:"sandboxes"`
	LastHeartbeat       time.Time `json:"lastHeartbeat"`
	// Stranded counts the sandboxes dead incarnations of this worker
	// left running, until a worker starting on their machine removes
	// them (or `baton worker --cleanup` there).
	Stranded    int    `json:"stranded"`
	Incarnation string `json:"incarnation,omitempty"`
	Machine     string `json:"machine,omitempty"`
}

// Views lists every worker this orchestrator has heard from.
func (w *Workers) Views(now time.Time) []WorkerView {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]WorkerView, 0, len(w.m))
	for id, e := range w.m {
		v := WorkerView{ID: id, Runtime: e.hb.Runtime, State: "ready", CPUMilli: e.hb.CPUMilli, MemoryBytes: e.hb.MemoryBytes,
			ReservedCPUMilli: e.reservedCPU, ReservedMemoryBytes: e.reservedMem, Sandboxes: e.hb.Sandboxes, LastHeartbeat: e.seen,
			Incarnation: e.hb.Incarnation, Machine: e.hb.Machine}
		for _, st := range w.stranded {
			if st.workerID == id {
				v.Stranded += st.sandboxes
			}
		}
		switch {
		case e.dead || !e.alive(now, w.behind):
			v.State = "dead"
		case e.draining:
			v.State = "draining"
		case now.Before(e.suspectTill):
			v.State = "suspect"
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

package orchestrator

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/worker/protocol"
)

// missedHeartbeats is how many heartbeat intervals may pass before a worker
// is taken for dead: with the default 200 ms beat, 800 ms, so a dead
// worker is noticed within 900 ms by a sweep every 100 ms.
const missedHeartbeats = 4

// maxBehind caps the grace the sweep gives for heartbeats arriving late
// (heartbeatLag): a worker that stops while the orchestrator is behind
// on heartbeats is declared dead at most this much later than within a
// second.
const maxBehind = 5 * time.Second

// transitCreep is how slowly a worker's transit baseline rises towards
// its later heartbeats' transit: by 1/transitCreep of the difference per
// heartbeat, so that a worker whose clock stepped back is absorbed
// within seconds (two thirds of the step in 16 beats).
const transitCreep = 16

// Workers tracks the workers that send heartbeats and the resources the
// orchestrator has reserved on each, and sends them sandbox commands.
type Workers struct {
	nc *nats.Conn
	// term is the leadership term stamped on creations and deletions
	// (zero: not replicated); workers refuse one older than they saw.
	term    uint64
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
	// worker left out as suspect comes back, or one awaiting adoption
	// shows its room; viewQuiet says a worker was
	// left out as quiet but not dead, whom more grace (heartbeatLag) may bring
	// back.
	view      []decide.WorkerState
	viewOf    []*workerEntry
	viewOK    bool
	viewUntil time.Time
	viewQuiet bool
	// placements counts Reserve's decisions: the seed of each one's sample.
	placements uint64
	// lag is how late heartbeats arrive as a whole; the sweep adds it to
	// a worker's grace (grace), so that an orchestrator behind on its
	// heartbeats declares no live worker dead.
	lag heartbeatLag
	// stranded are the sandboxes of dead workers, by the incarnation that
	// ran them, until a worker starting on the same machine reports that
	// it removed them (Heartbeat.Reclaimed) or the incarnation comes back.
	// reclaimed remembers the incarnations reported so, so that one
	// reported before it was declared dead is not counted afterwards.
	stranded  map[string]stranded
	reclaimed map[string]bool
	// drained names the workers an operator drained (Drain), heard from
	// or not, so that one starting again stays drained.
	drained map[string]bool
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
	// adoptTill: the worker came (back) with sandboxes adoptionWait
	// before it, and shows no room to placement (state) until the
	// orchestrator has adopted them (Adopted), at most until then.
	adoptTill time.Time
	// transit is the usual time from a heartbeat's Sent to its handling
	// (network plus the clock offset), the baseline of its lateness: the
	// shortest seen, creeping up towards later ones so that a worker
	// clock stepped back is absorbed within seconds instead of granting
	// every worker extra grace for good.
	transit time.Duration
	known   bool // transit is set: a heartbeat was handled before
	slot    int  // index in Workers.view, or -1
}

// NewWorkers returns an empty table that talks to workers over nc.
func NewWorkers(nc *nats.Conn) *Workers {
	return &Workers{nc: nc, m: map[string]*workerEntry{}, replies: &replyMux{nc: nc},
		stranded: map[string]stranded{}, reclaimed: map[string]bool{}, drained: map[string]bool{}}
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
		e = &workerEntry{id: hb.WorkerID, slot: -1, draining: w.drained[hb.WorkerID]}
		w.m[hb.WorkerID] = e
		w.list = append(w.list, e)
		fresh = true
	case e.dead, e.hb.Incarnation != hb.Incarnation:
		// Reservations start from nothing: the router forgot the
		// sandboxes of a dead worker and re-reserves what it adopts.
		restarted = !e.dead
		// The transit baseline stays: it is the path's and the clock's,
		// not the incarnation's, and a worker back after a stall judged
		// against a baseline taken late would show no lateness.
		*e = workerEntry{id: hb.WorkerID, slot: -1, draining: w.drained[hb.WorkerID], transit: e.transit, known: e.known}
		fresh = true
	}
	if fresh && hb.Sandboxes > 0 {
		e.adoptTill = now.Add(adoptionWait)
	}
	e.hb, e.seen = hb, now
	if len(hb.Reclaimed) > 0 || len(w.stranded) > 0 {
		w.reclaimLocked(hb)
	}
	w.heardLocked(e, hb.Sent, now)
	return fresh, restarted
}

// ObserveBeat records a short heartbeat (protocol.Beat) from a worker
// whose full heartbeat this table has: the worker is alive, its state
// the last full heartbeat's. It reports false, and records nothing,
// for a worker unknown, declared dead or of another incarnation: its
// next full heartbeat (Observe) brings it in.
func (w *Workers) ObserveBeat(b protocol.Beat, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[b.WorkerID]
	if !ok || e.dead || e.hb.Incarnation != b.Incarnation {
		return false
	}
	e.hb.Sent, e.seen = b.Sent, now
	w.heardLocked(e, b.Sent, now)
	return true
}

// heardLocked updates the placement view and the transit baselines for
// a heartbeat, full or short, sent at sent and handled at now.
func (w *Workers) heardLocked(e *workerEntry, sent, now time.Time) {
	if e.slot < 0 {
		w.viewOK = false
	} else {
		w.sync(e)
	}
	if sent.IsZero() {
		return
	}
	d := now.Sub(sent)
	// The first heartbeat or a faster one sets the baseline; a later one
	// is late by the difference, and raises it by a transitCreep-th of it.
	var late time.Duration
	if !e.known || d < e.transit {
		e.transit, e.known = d, true
	} else {
		late = d - e.transit
		e.transit += late / transitCreep
	}
	// The grace rises, and a worker left out as quiet may be back, when
	// this heartbeat is later than the grace (up to its cap): observe
	// raises only the windows grace reads, to their largest lateness.
	// Asked only while one is left out, not on every heartbeat.
	if w.viewQuiet && min(late, maxBehind) > w.lag.grace(now) {
		w.viewOK = false
	}
	w.lag.observe(late, now)
}

// grace is how much longer than its beats allow a worker may be silent
// at now before it is taken for dead: how late heartbeats arrive now.
func (w *Workers) grace(now time.Time) time.Duration { return w.lag.grace(now) }

// Sweep declares dead the workers whose heartbeats stopped and returns
// them. When most of the cluster falls silent at once (massSilence), the
// silence is taken for the path's (the NATS server or this process held
// up, the heartbeats sent meanwhile still on their way), and only the
// workers silent for maxBehind more than their beats allow are declared
// dead.
func (w *Workers) Sweep(now time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var silent []*workerEntry
	live := 0
	grace := w.grace(now)
	for _, e := range w.list { // the map's entries, as a slice
		if e.dead {
			continue
		}
		live++
		if !e.alive(now, grace) {
			silent = append(silent, e)
		}
	}
	mass := massSilence(len(silent), live)
	var dead []string
	for _, e := range silent {
		if mass && e.alive(now, maxBehind) {
			continue
		}
		e.dead = true
		w.viewOK = false
		dead = append(dead, e.id)
	}
	sort.Strings(dead)
	return dead
}

// massSilence reports whether silent workers of live falling silent in
// one sweep look like the path's stall rather than their deaths: more
// than half of the cluster, and more than one worker, at once. (At
// 10,000 simulated workers, sweeps found 5,000 to all 10,000 silent at
// once while the NATS server in the workers' starved process held every
// heartbeat back; a lone worker's death is never one.)
func massSilence(silent, live int) bool { return silent >= 2 && 2*silent > live }

// Drain stops or resumes placing new sandboxes on a worker, known or not
// yet: the worker stays drained when it starts again (a new incarnation)
// or is first heard from. It reports whether the worker is known.
func (w *Workers) Drain(id string, drain bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if drain {
		w.drained[id] = true
	} else {
		delete(w.drained, id)
	}
	e, ok := w.m[id]
	if ok {
		e.draining = drain
		w.sync(e)
	}
	return ok
}

// Adopted ends a worker's wait for the adoption of the sandboxes it came
// with (Observe): an adoption that began listing them at started is done,
// or failed. One that began before the wait did (the worker restarted
// while it listed) ends nothing: it may not have seen the new sandboxes,
// and the next heartbeat that reports more than the router knows starts
// another. Placement sees the worker's room again.
func (w *Workers) Adopted(id string, started time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.m[id]; ok && !e.adoptTill.IsZero() && !started.Before(e.adoptTill.Add(-adoptionWait)) {
		e.adoptTill = time.Time{}
		w.sync(e)
	}
}

// Known reports whether a worker has been heard from.
func (w *Workers) Known(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.m[id]
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

// alive reports whether the worker's last heartbeat is recent enough,
// with grace for the orchestrator's own backlog.
func (e *workerEntry) alive(now time.Time, grace time.Duration) bool {
	iv := e.hb.Interval
	if iv <= 0 {
		iv = time.Second
	}
	return now.Sub(e.seen) <= missedHeartbeats*iv+grace
}

// Live counts the live workers.
func (w *Workers) Live(now time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, grace := 0, w.grace(now)
	for _, e := range w.m {
		if !e.dead && e.alive(now, grace) {
			n++
		}
	}
	return n
}

// LiveIDs names the live workers, sorted.
func (w *Workers) LiveIDs(now time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	grace := w.grace(now)
	for id, e := range w.m {
		if !e.dead && e.alive(now, grace) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// HasImage reports whether a live worker can start image, and the images
// the live workers have, for messages.
func (w *Workers) HasImage(image string, now time.Time) (bool, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var all []string
	grace := w.grace(now)
	for _, e := range w.m {
		if e.dead || !e.alive(now, grace) {
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

package orchestrator

import (
	"fmt"
	"sort"
	"time"

	"baton.dev/baton/scheduler/decide"
)

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

// Snapshot returns the live workers for placement.
func (w *Workers) Snapshot(now time.Time) []decide.WorkerState {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.appendLiveLocked(make([]decide.WorkerState, 0, len(w.m)), now)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (w *Workers) appendLiveLocked(out []decide.WorkerState, now time.Time) []decide.WorkerState {
	grace := w.grace(now)
	for _, e := range w.list {
		e.endAdoptionWait(now)
		if e.placeable(now, grace) {
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

// state is the worker as placement sees it. A worker waiting for the
// adoption of the sandboxes it came with (adoptTill) has no room: what
// they hold is not known yet, and a sandbox created there meanwhile would
// duplicate one of them. Its capacity still counts, so that requests
// queued for a sandbox only it can hold wait for the adoption instead of
// being refused as fitting on no worker.
func (e *workerEntry) state() decide.WorkerState {
	s := decide.WorkerState{
		ID: e.id, CPUMilli: e.hb.CPUMilli, MemoryBytes: e.hb.MemoryBytes,
		ReservedCPUMilli: e.reservedCPU, ReservedMemoryBytes: e.reservedMem, Draining: e.draining,
	}
	if !e.adoptTill.IsZero() {
		s.ReservedCPUMilli = max(s.ReservedCPUMilli, s.CPUMilli)
		s.ReservedMemoryBytes = max(s.ReservedMemoryBytes, s.MemoryBytes)
	}
	return s
}

// endAdoptionWait ends, at adoptTill, a wait for an adoption that never
// said it was done (Workers.Adopted).
func (e *workerEntry) endAdoptionWait(now time.Time) {
	if !e.adoptTill.IsZero() && !now.Before(e.adoptTill) {
		e.adoptTill = time.Time{}
	}
}

// buildView makes the placement view of the workers placeable at now.
func (w *Workers) buildView(now time.Time) {
	w.view, w.viewOf = w.view[:0], w.viewOf[:0]
	w.viewUntil, w.viewQuiet = time.Time{}, false
	grace := w.grace(now)
	for _, e := range w.list {
		e.slot = -1
		e.endAdoptionWait(now)
		switch {
		case e.placeable(now, grace):
			e.slot = len(w.view)
			w.view = append(w.view, e.state())
			w.viewOf = append(w.viewOf, e)
			if !e.adoptTill.IsZero() {
				w.rebuildBy(e.adoptTill)
			}
		case e.dead:
		case !e.alive(now, grace):
			w.viewQuiet = true
		default:
			w.rebuildBy(e.suspectTill)
		}
	}
	w.viewOK = true
}

// rebuildBy has the view built again by t (viewUntil).
func (w *Workers) rebuildBy(t time.Time) {
	if w.viewUntil.IsZero() || t.Before(w.viewUntil) {
		w.viewUntil = t
	}
}

// sync copies a changed entry into the placement view.
func (w *Workers) sync(e *workerEntry) {
	if w.viewOK && e.slot >= 0 {
		w.view[e.slot] = e.state()
	}
}

// Reserve books req on a worker picked by decide.PlaceSampledIndex: the
// least allocated of decide.DefaultPlacementSample workers drawn at
// random, so that a decision costs the same on 100 workers as on 10,000.
func (w *Workers) Reserve(req decide.PlacementRequest, now time.Time) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Placement decides on the kept view; what it chose is checked
	// against now. A choice gone stale, or no choice at all, is decided
	// again on a view built at now. Either way the decision is
	// PlaceSampledIndex's over Snapshot(now): Place's where the cluster is
	// no larger than the sample, and a refusal exactly where Place
	// refuses (TestReserveDecidesAsPlaceOverSnapshot).
	for built := false; ; built = true {
		if !w.viewOK || (!w.viewUntil.IsZero() && !now.Before(w.viewUntil)) {
			w.buildView(now)
			built = true
		}
		w.placements++
		i, err := decide.PlaceSampledIndex(w.view, req, decide.DefaultPlacementSample, w.placements)
		if err == nil && w.viewOf[i].placeable(now, w.grace(now)) {
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

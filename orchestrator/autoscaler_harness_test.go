package orchestrator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/scheduler/decide"
)

// scaleHarness replays a demand trace through the autoscaler's windows
// and Scale, applying each plan to a model of one pool (creations finish
// at the next step, deletions at once), and records the plans, as
// Nomad's scheduler tests record theirs.
type scaleHarness struct {
	a         *Autoscaler
	now       time.Time
	sandboxes []decide.IdleSandbox // every sandbox, most recently used first
	pending   int                  // creations that finish at the next step
	nextID    int
	plans     []string
}

// step runs one tick with demand requests in flight: the most recently
// used sandboxes serve them, the rest of the demand waits.
func (h *scaleHarness) step(demand int) {
	h.now = h.now.Add(time.Second)
	for range h.pending {
		h.sandboxes = append([]decide.IdleSandbox{{ID: fmt.Sprintf("sb%d", h.nextID), LastUsed: h.now}}, h.sandboxes...)
		h.nextID++
	}
	h.pending = 0
	busy := min(demand, len(h.sandboxes))
	for i := range busy {
		h.sandboxes[i].LastUsed = h.now
	}
	ps := h.a.observe(h.now, []decide.PoolState{{Function: "f", Idle: append([]decide.IdleSandbox(nil), h.sandboxes[busy:]...), Busy: busy, Waiting: demand - busy}}, true)
	plan := decide.Scale(h.now, ps, h.a.policy)
	var rec []string
	if n := plan.Create["f"]; n > 0 {
		h.pending = n
		rec = append(rec, fmt.Sprintf("+%d", n))
	}
	if del := plan.Delete["f"]; len(del) > 0 {
		gone := map[string]bool{}
		for _, id := range del {
			gone[id] = true
		}
		kept := h.sandboxes[:0]
		for _, sb := range h.sandboxes {
			if !gone[sb.ID] {
				kept = append(kept, sb)
			}
		}
		h.sandboxes = kept
		rec = append(rec, fmt.Sprintf("-%d", len(del)))
	}
	if ps[0].Panicking {
		rec = append(rec, "panic")
	}
	h.plans = append(h.plans, strings.Join(rec, " "))
}

// TestAutoscalerPlansOverABurst records the plans for a steady load, a
// burst, its end and a long idle (keep-alive and stable window 10 s,
// floor 1): from zero the queued demand panics and gets its 2 sandboxes;
// the burst of 12 on 2 panics again and gets 10 more; panic mode holds 10
// s after the burst; 10 s after the last use the idle sandboxes beyond the
// stable demand go (-10), and when the burst leaves the stable window the
// pool shrinks to its floor (-1).
func TestAutoscalerPlansOverABurst(t *testing.T) {
	h := &scaleHarness{
		a:   NewAutoscaler(nil, decide.AutoscalerPolicy{KeepAlive: 10 * time.Second, PanicWindow: 2 * time.Second, MaxCreatesPerFunction: 100}, time.Second),
		now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
	}
	h.a.SetFloorPlanner(fixedFloors{"f": 1})
	trace := []int{2, 2, 2, 2, 12, 12, 12, 0}
	for range 25 {
		trace = append(trace, 0)
	}
	for _, d := range trace {
		h.step(d)
	}
	got := strings.Join(h.plans, "|")
	want := "+2 panic|panic|panic|panic|+10 panic|panic|panic|panic|panic|panic|panic|panic|panic|panic|||-10|-1|||||||||||||||"
	if got != want {
		t.Errorf("plans over the trace:\n got %s\nwant %s", got, want)
	}
}

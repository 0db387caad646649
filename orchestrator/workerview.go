package orchestrator

import (
	"sort"
	"time"

	"baton.dev/baton/orchestrator/api"
)

// Views lists every worker this orchestrator has heard from.
func (w *Workers) Views(now time.Time) []api.WorkerView {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]api.WorkerView, 0, len(w.m))
	grace := w.grace(now)
	for id, e := range w.m {
		v := api.WorkerView{ID: id, Runtime: e.hb.Runtime, State: "ready", CPUMilli: e.hb.CPUMilli, CPUAllocationRatio: e.hb.CPUAllocationRatio, MemoryBytes: e.hb.MemoryBytes,
			ReservedCPUMilli: e.reservedCPU, ReservedMemoryBytes: e.reservedMem, Sandboxes: e.hb.Sandboxes, LastHeartbeat: e.seen,
			Incarnation: e.hb.Incarnation, Machine: e.hb.Machine}
		for _, st := range w.stranded {
			if st.workerID == id {
				v.Stranded += st.sandboxes
			}
		}
		switch {
		case e.dead || !e.alive(now, grace):
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

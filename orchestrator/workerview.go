package orchestrator

import (
	"sort"
	"time"
)

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

package decide

import (
	"math"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/workflow"
)

// ChainPool is what chain warming knows of one function's pool.
type ChainPool struct {
	// Idle counts the idle sandboxes; Claimed those promised to other
	// invocations' stages that have not started.
	Idle, Claimed int
	// MeanExec and ColdStart are the pool's measured moving averages (zero
	// until measured).
	MeanExec, ColdStart time.Duration
}

// ChainWarm says: At after the invocation starts, make sure N sandboxes of
// Function are warm or starting.
type ChainWarm struct {
	Function string
	Stage    string
	At       time.Duration
	N        int
}

// PlanChainWarming is the workflow-aware warming decision for one
// invocation of w, a pure function over the pools' state by function name:
// every stage that needs others is expected to start after the critical
// path of its predecessors' mean execution times, plus a cold start when a
// first stage has no idle sandbox; its sandboxes are started its own
// function's cold start before that (prewarm.ChainWarmAt, the simulator's
// rule). N is the stage's expected width: 1, or for a foreach stage the
// calls it made last time (fanOut, by stage), bounded by its maxParallel.
// Only an invocation that arrives cold, some first stage's pool without an
// idle sandbox, warms ahead (prewarm.ChainWarms, the simulator's rule).
// A stage whose function has no measured cold start yet is warmed at once;
// one whose pool has N idle sandboxes free of claims now is left out
// (ClaimWarm checks again when the time comes).
func PlanChainWarming(w *workflow.Workflow, pools map[string]ChainPool, fanOut map[string]int) []ChainWarm {
	stages := w.Spec.Stages
	offset := make(map[string]time.Duration, len(stages))
	var delay time.Duration
	minRootIdle := math.MaxInt
	for _, st := range stages {
		if len(st.Needs) == 0 {
			p := pools[st.Function]
			minRootIdle = min(minRootIdle, p.Idle)
			if p.Idle == 0 {
				delay = max(delay, p.ColdStart)
			}
		}
	}
	if !prewarm.ChainWarms(minRootIdle) {
		return nil // arrived warm: the later stages' pools are warm as often
	}
	// Offsets in dependency order: a validated workflow is acyclic, so
	// every pass settles at least one stage.
	for len(offset) < len(stages) {
		progress := false
		for _, st := range stages {
			if _, done := offset[st.Name]; done {
				continue
			}
			var at time.Duration
			ready := true
			for _, n := range st.Needs {
				o, ok := offset[n]
				if !ok {
					ready = false
					break
				}
				at = max(at, o+pools[w.Stage(n).Function].MeanExec)
			}
			if ready {
				offset[st.Name], progress = at, true
			}
		}
		if !progress {
			return nil // a cycle: Parse refuses these, so never here
		}
	}
	var out []ChainWarm
	for _, st := range stages {
		if len(st.Needs) == 0 {
			continue
		}
		n := 1
		if st.Foreach != "" {
			n = max(1, fanOut[st.Name])
			if st.MaxParallel > 0 {
				n = min(n, st.MaxParallel)
			}
		}
		p := pools[st.Function]
		if p.Idle-p.Claimed >= n {
			continue // warm sandboxes are free now: most invocations of a busy workflow
		}
		out = append(out, ChainWarm{Function: st.Function, Stage: st.Name, At: prewarm.ChainWarmAt(delay, offset[st.Name], p.ColdStart), N: n})
	}
	return out
}

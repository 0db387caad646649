package decide

import (
	"math"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/workflow"
)

// LiveStageSigma is the spread (log-normal sigma) the live QoS plan gives
// a stage's element time around its pool's measured mean: the pools
// measure means only. It is the simulator's uniform stage model's.
const LiveStageSigma = 0.3

// Stand-ins for a pool not measured yet (prewarm.LiveOptions' defaults).
const (
	unmeasuredColdStart = time.Second
	unmeasuredMeanExec  = 100 * time.Millisecond
)

// QoSShape describes w to the QoS-aware pre-warm decision
// (prewarm.PlanQoS) from its pools' measurements, by function name: each
// stage's element time log-normal around its function's measured mean
// (LiveStageSigma), its cold start the measured one, a foreach stage as
// wide as its calls last time (fanOut, by stage; 1 before any), bounded
// by its maxParallel where it runs that many at once. A pure function, as
// the simulator's description of its own model is.
func QoSShape(w *workflow.Workflow, pools map[string]ChainPool, fanOut map[string]int) prewarm.WorkflowShape {
	shape := prewarm.WorkflowShape{Name: w.Metadata.Name, Latency: w.Spec.QoS.Latency, Percentile: w.Spec.QoS.Percentile}
	index := make(map[string]int, len(w.Spec.Stages))
	for i, st := range w.Spec.Stages {
		index[st.Name] = i
	}
	for _, st := range w.Spec.Stages {
		p := pools[st.Function]
		mean, cold := p.MeanExec, p.ColdStart
		if mean <= 0 {
			mean = unmeasuredMeanExec
		}
		if cold <= 0 {
			cold = unmeasuredColdStart
		}
		s := prewarm.StageShape{
			Name: st.Name, Function: st.Function, Width: 1, Parallel: 1,
			Median:    time.Duration(float64(mean) / math.Exp(LiveStageSigma*LiveStageSigma/2)),
			Sigma:     LiveStageSigma,
			ColdStart: cold,
		}
		if st.Foreach != "" {
			s.Width = max(1, fanOut[st.Name])
			s.Parallel = s.Width
			if st.MaxParallel > 0 {
				s.Parallel = min(st.MaxParallel, s.Width)
			}
		}
		for _, n := range st.Needs {
			s.Needs = append(s.Needs, index[n])
		}
		shape.Stages = append(shape.Stages, s)
	}
	return shape
}

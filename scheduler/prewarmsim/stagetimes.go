package prewarmsim

import (
	"fmt"
	"math"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/workflow"
)

// StageTime is the log-normal model of one element of a workflow stage.
type StageTime struct {
	Median time.Duration
	Sigma  float64
}

// StageTimes are one workflow's stage models, in its stage order, and
// where they come from.
type StageTimes struct {
	Stages []StageTime
	Source string
}

// StageTimesFromProfile fits each stage of w a log-normal element time
// from its measured profile p (scheduler/profile) at the resources the
// stage's function runs with until tuned (a fixed CPU and memory, or the
// upper bounds of auto ones: workflow.Function's defaults, the ones the
// simulator prices): the geometric mean and the standard deviation of the
// log latencies at the nearest grid point (nearest in log CPU, then log
// memory).
func StageTimesFromProfile(w *workflow.Workflow, p *profile.Profile) (StageTimes, error) {
	out := StageTimes{Source: "profile: " + p.Source}
	for _, st := range w.Spec.Stages {
		ps := p.Stage(st.Name)
		if ps == nil {
			return StageTimes{}, fmt.Errorf("profile of %s has no stage %s", w.Metadata.Name, st.Name)
		}
		fn := w.Spec.Functions[st.Function]
		cpu := nearest(p.Grid.CPUMilli, fn.DefaultCPUMilli())
		mem := nearest(p.Grid.MemoryMiB, fn.DefaultMemoryBytes()>>20)
		var logs []float64
		for _, pt := range ps.Points {
			if pt.CPUMilli == cpu && pt.MemoryMiB == mem {
				for _, ms := range pt.LatencyMs {
					logs = append(logs, math.Log(ms/1000))
				}
			}
		}
		if len(logs) == 0 {
			return StageTimes{}, fmt.Errorf("profile of %s: stage %s has no latencies at %dm, %dMi", w.Metadata.Name, st.Name, cpu, mem)
		}
		median, sigma := prewarm.FitLogNormal(logs)
		out.Stages = append(out.Stages, StageTime{Median: median, Sigma: sigma})
	}
	return out, nil
}

// nearest is the value of grid (positive, ascending) nearest v in log
// scale; grid's largest for v ≤ 0 (unknown: the upper bound).
func nearest(grid []int64, v int64) int64 {
	if v <= 0 {
		return grid[len(grid)-1]
	}
	best := grid[0]
	for _, g := range grid {
		if math.Abs(math.Log(float64(g)/float64(v))) < math.Abs(math.Log(float64(best)/float64(v))) {
			best = g
		}
	}
	return best
}

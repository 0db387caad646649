package prewarmsim

import (
	"math"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/workflow"
)

func TestStageTimesFromProfile(t *testing.T) {
	w, err := workflow.Parse("two.yaml", []byte(strings.Replace(twoStages, "b: {image: x, resources: {cpu: 1000m, memory: 128Mi}}",
		"b: {image: x, resources: {cpu: auto, memory: auto}, bounds: {cpu: [250m, 2000m], memory: [64Mi, 300Mi]}}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	grid := profile.Grid{CPUMilli: []int64{500, 2000}, MemoryMiB: []int64{128, 256}}
	stage := func(name string, at map[[2]int64][]float64) profile.Stage {
		st := profile.Stage{Name: name, Function: name, Items: 1}
		for _, c := range grid.CPUMilli {
			for _, m := range grid.MemoryMiB {
				ms := at[[2]int64{c, m}]
				if ms == nil {
					ms = []float64{1000}
				}
				st.Points = append(st.Points, profile.Point{CPUMilli: c, MemoryMiB: m, LatencyMs: ms})
			}
		}
		return st
	}
	p := &profile.Profile{Version: 1, Workflow: "two", Source: "synthetic: test", Grid: grid, Stages: []profile.Stage{
		// a runs at 1000m (nearest 500m in log scale: a tie with 2000m, the
		// first wins) and 128Mi.
		stage("a", map[[2]int64][]float64{{500, 128}: {100, 400}}),
		// b at its upper bounds, 2000m and 300Mi: nearest 256Mi.
		stage("b", map[[2]int64][]float64{{2000, 256}: {50, 50, 50}}),
	}}
	got, err := StageTimesFromProfile(w, p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != "profile: synthetic: test" || len(got.Stages) != 2 {
		t.Fatalf("got %+v", got)
	}
	if a := got.Stages[0]; a.Median != 200*time.Millisecond || math.Abs(a.Sigma-math.Log(2)) > 1e-9 {
		t.Errorf("stage a: %+v, want the geometric mean 200ms and sigma ln 2", a)
	}
	if b := got.Stages[1]; b.Median != 50*time.Millisecond || b.Sigma != 0 {
		t.Errorf("stage b: %+v, want 50ms and sigma 0", b)
	}
	p.Stages = p.Stages[:1]
	if _, err := StageTimesFromProfile(w, p); err == nil || !strings.Contains(err.Error(), "no stage b") {
		t.Errorf("a profile without stage b: %v, want an error naming it", err)
	}
}

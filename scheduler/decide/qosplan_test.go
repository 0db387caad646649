package decide

import (
	"math"
	"testing"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/workflow"
)

func TestQoSShape(t *testing.T) {
	w, err := workflow.Parse("wc.yaml", []byte(`apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: wc}
spec:
  qos: {latency: 2s, percentile: 95}
  functions:
    split: {image: x, resources: {cpu: 500m, memory: 128Mi}}
    count: {image: x, resources: {cpu: 500m, memory: 128Mi}}
  stages:
    - {name: split, function: split}
    - {name: map, function: count, needs: [split], foreach: chunks, maxParallel: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	pools := map[string]ChainPool{"split": {MeanExec: 200 * time.Millisecond, ColdStart: 400 * time.Millisecond}}
	shape := QoSShape(w, pools, map[string]int{"map": 5})
	if shape.Latency != 2*time.Second || shape.Percentile != 95 || len(shape.Stages) != 2 {
		t.Fatalf("shape %+v", shape)
	}
	split, m := shape.Stages[0], shape.Stages[1]
	if mean := split.Median.Seconds() * math.Exp(split.Sigma*split.Sigma/2); math.Abs(mean-0.2) > 1e-6 || split.ColdStart != 400*time.Millisecond {
		t.Errorf("split: %+v, want a mean of 200ms and its measured cold start", split)
	}
	if m.Width != 5 || m.Parallel != 2 || len(m.Needs) != 1 || m.Needs[0] != 0 || m.ColdStart != unmeasuredColdStart {
		t.Errorf("map: %+v, want 5 wide, 2 at once, after split, the stand-in cold start", m)
	}
	if _, err := prewarm.PlanQoS(shape); err != nil {
		t.Errorf("PlanQoS refuses the shape: %v", err)
	}
}

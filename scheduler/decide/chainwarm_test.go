package decide

import (
	"fmt"
	"testing"
	"time"

	"baton.dev/baton/workflow"
)

const chainDoc = `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: chain}
spec:
  functions:
    a: {image: x/a:v1, resources: {cpu: 1000m, memory: 128Mi}}
    b: {image: x/b:v1, resources: {cpu: 1000m, memory: 128Mi}}
    c: {image: x/c:v1, resources: {cpu: 1000m, memory: 128Mi}}
    d: {image: x/d:v1, resources: {cpu: 1000m, memory: 128Mi}}
  stages:
    - {name: sd, function: d, needs: [sb, sc]}
    - {name: sa, function: a}
    - {name: sb, function: b, needs: [sa], foreach: items, maxParallel: 3}
    - {name: sc, function: c, needs: [sa]}
`

// TestPlanChainWarming records the chain-warming plans of a diamond
// (sa → {sb foreach, sc} → sd, declared out of order) over pool states.
func TestPlanChainWarming(t *testing.T) {
	w, err := workflow.Parse("chain.yaml", []byte(chainDoc))
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	measured := map[string]ChainPool{
		"a": {MeanExec: ms(200), ColdStart: ms(1000)},
		"b": {MeanExec: ms(300), ColdStart: ms(800)},
		"c": {MeanExec: ms(100), ColdStart: ms(400)},
		"d": {MeanExec: ms(50), ColdStart: ms(600)},
	}
	warmA := map[string]ChainPool{}
	for k, v := range measured {
		warmA[k] = v
	}
	warmA["a"] = ChainPool{Idle: 1, MeanExec: ms(200), ColdStart: ms(1000)}
	for _, tt := range []struct {
		name   string
		pools  map[string]ChainPool
		fanOut map[string]int
		want   string
	}{
		{
			// The first stage waits its 1 s cold start; sb and sc are
			// expected 200 ms after it, sd after the slower of them (500 ms).
			name: "cold first stage", pools: measured,
			want: "sd:d@900ms×1 sb:b@400ms×1 sc:c@800ms×1",
		},
		{
			// prewarm.ChainWarms: the later stages' pools are warm as often.
			name: "a warm first stage: no chain warming", pools: warmA,
			want: "",
		},
		{
			name: "foreach width from the last invocation, bounded by maxParallel", pools: measured,
			fanOut: map[string]int{"sb": 5},
			want:   "sd:d@900ms×1 sb:b@400ms×3 sc:c@800ms×1",
		},
		{
			name: "a stage whose pool has enough idle sandboxes now is left out", pools: map[string]ChainPool{
				"a": measured["a"], "b": measured["b"], "d": measured["d"],
				"c": {Idle: 1, MeanExec: ms(100), ColdStart: ms(400)},
			},
			want: "sd:d@900ms×1 sb:b@400ms×1",
		},
		{
			name: "idle sandboxes that other invocations claimed are not free", pools: map[string]ChainPool{
				"a": measured["a"], "b": measured["b"], "d": measured["d"],
				"c": {Idle: 1, Claimed: 1, MeanExec: ms(100), ColdStart: ms(400)},
			},
			want: "sd:d@900ms×1 sb:b@400ms×1 sc:c@800ms×1",
		},
		{
			name: "nothing measured yet: everything at once", pools: map[string]ChainPool{},
			want: "sd:d@0s×1 sb:b@0s×1 sc:c@0s×1",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			for i, cw := range PlanChainWarming(w, tt.pools, tt.fanOut) {
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s:%s@%v×%d", cw.Stage, cw.Function, cw.At, cw.N)
			}
			if got != tt.want {
				t.Errorf("plan %q, want %q", got, tt.want)
			}
		})
	}
}

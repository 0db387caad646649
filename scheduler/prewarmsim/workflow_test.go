package prewarmsim

import (
	"strings"
	"testing"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/workflow"
)

// TestInvocationTimesInStretches draws the invocation times of a workflow
// group with a foreach stage in stretches of varied sizes, as the
// simulator hands arrivals over, and checks every invocation's element
// durations and warm-latency check against those drawn for it alone.
func TestInvocationTimesInStretches(t *testing.T) {
	// The two-stage workflow, its second stage a foreach and its QoS
	// tighter.
	fan := strings.NewReplacer("needs: [a]}", `needs: [a], foreach: "{{ .a.items }}"}`, "latency: 1s", "latency: 500ms").Replace(twoStages)
	w, err := workflow.Parse("fan.yaml", []byte(fan))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{Trace: tinyTrace(), Workflows: []*workflow.Workflow{w}, Seed: 7}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g, err := workflowGroup(cfg, w, 0, map[*workflow.Workflow]*prewarm.QoSPlan{})
	if err != nil {
		t.Fatal(err)
	}
	g.index = 3
	stretched, alone := newInvocationTimes(cfg.Seed, &g), newInvocationTimes(cfg.Seed, &g)
	per := stretched.perInvocation()
	if want := 1 + cfg.Fanout; per != want {
		t.Fatalf("%d elements an invocation, want %d", per, want)
	}
	violations, num := 0, 0
	for _, n := range []int{0, 1, 5, 0, 17, 2, 40} {
		stretched.draw(n)
		for k := range n {
			alone.draw(1)
			if stretched.from+k != num || alone.from != num {
				t.Fatalf("invocation %d held as %d and %d", num, stretched.from+k, alone.from)
			}
			for e := range per {
				if got, want := stretched.durations[k*per+e], alone.durations[e]; got != want || got <= 0 {
					t.Fatalf("invocation %d element %d: %v in a stretch, %v alone", num, e, got, want)
				}
			}
			if stretched.warmViolates[k] != alone.warmViolates[0] {
				t.Fatalf("invocation %d: warm violation %v in a stretch, %v alone", num, stretched.warmViolates[k], alone.warmViolates[0])
			}
			if stretched.warmViolates[k] {
				violations++
			}
			num++
		}
	}
	if violations == 0 || violations == num {
		t.Errorf("%d of %d invocations slower than the QoS warm: want some, not all", violations, num)
	}
}

package prewarmsim

import (
	"cmp"
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// TestStreamedSameAsInMemory runs every policy on the same traces given as
// a stream (invocations produced a minute at a time, handed over in
// stretches) and held in memory: the figures must be the same, which also
// checks that the reuse of finished workflow invocations' slots changes
// nothing.
func TestStreamedSameAsInMemory(t *testing.T) {
	w, pols := twoStagesAndEveryPolicy(t)
	azure, err := trace.OpenAzure2019("../trace/testdata/heavy2019", trace.ReadOptions{Minutes: 120, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	synthetic, err := trace.OpenSynthetic(trace.SyntheticOptions{Functions: 30, Minutes: 90, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stream trace.Stream
	}{{"azure 2019 counts", azure}, {"synthetic", synthetic}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Workflows: []*workflow.Workflow{w}, InstancesPerWorkflow: 3, Seed: 1, Parallelism: 2}
			streamed, inMemory := cfg, cfg
			streamed.Stream = tt.stream
			inMemory.Trace = trace.Collect(tt.stream)
			a, err := Run(context.Background(), streamed, pols)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Run(context.Background(), inMemory, pols)
			if err != nil {
				t.Fatal(err)
			}
			if a.Invocations != inMemory.Trace.TotalInvocations() || a.Invocations == 0 {
				t.Errorf("%d invocations, want %d", a.Invocations, inMemory.Trace.TotalInvocations())
			}
			for i := range a.Results {
				x, y := a.Results[i], b.Results[i]
				x.WallSeconds, y.WallSeconds, x.PolicyMicrosPerDecision, y.PolicyMicrosPerDecision = 0, 0, 0, 0
				if !reflect.DeepEqual(x, y) {
					t.Errorf("%s: streamed %+v\nin memory %+v", x.Policy, x, y)
				}
				if x.WorkflowInvocations == 0 {
					t.Errorf("%s: no workflow invocations", x.Policy)
				}
			}
		})
	}
}

// TestEventHeapOrder pushes events at random times, popping some on the
// way, and checks every pop against a sorted list: the earliest event,
// ties in the order pushed.
func TestEventHeapOrder(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		times int // distinct times (few: many ties)
	}{{"one", 1, 1}, {"ties", 300, 3}, {"many", 5000, 1 << 30}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.n), 9))
			var h eventHeap
			var pending []event // sorted by (t, seq)
			byTimeThenSeq := func(a, b event) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.seq, b.seq)) }
			check := func() {
				got, want := h.pop(), pending[0]
				pending = pending[1:]
				if got != want {
					t.Fatalf("popped %+v, want %+v", got, want)
				}
			}
			for k := range tt.n {
				e := event{t: float64(rng.IntN(tt.times)), eventBody: eventBody{a: int32(k)}}
				h.push(e.t, e.eventBody)
				e.seq = h.seq
				i, _ := slices.BinarySearchFunc(pending, e, byTimeThenSeq)
				pending = slices.Insert(pending, i, e)
				if rng.IntN(3) == 0 {
					check()
				}
			}
			for h.len() > 0 {
				check()
			}
			if len(pending) != 0 {
				t.Errorf("%d events never popped", len(pending))
			}
		})
	}
}

package prewarmsim

import (
	"context"
	"math/rand/v2"
	"testing"

	"baton.dev/baton/dags"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// BenchmarkRun simulates the heavy 2019 fixture (its first two hours, the
// sample workflows on top) under each policy on its own, and under every
// policy at once as `baton sim prewarm --policy all` does: the path whose
// time issue 22 §1 bounds.
func BenchmarkRun(b *testing.B) {
	samples, err := dags.Samples()
	if err != nil {
		b.Fatal(err)
	}
	var wfs []*workflow.Workflow
	for _, s := range samples {
		w, err := workflow.Parse(s.Name+".yaml", s.YAML)
		if err != nil {
			b.Fatal(err)
		}
		wfs = append(wfs, w)
	}
	all, err := prewarm.Parse("all")
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, pols []prewarm.PrewarmPolicy) {
		for b.Loop() {
			tr, err := trace.OpenAzure2019("../trace/testdata/heavy2019", trace.ReadOptions{Minutes: 120, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			cfg := Config{Stream: tr, Workflows: wfs, InstancesPerWorkflow: 2, Seed: 1, Parallelism: 1}
			if _, err := Run(context.Background(), cfg, pols); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, pol := range all {
		b.Run(pol.Name(), func(b *testing.B) { run(b, []prewarm.PrewarmPolicy{pol}) })
	}
	b.Run("all", func(b *testing.B) { run(b, all) })
}

// BenchmarkEventHeap pops the earliest of about 1,000 pending events and
// pushes one due a random time later, as a busy pool's finishing requests
// do.
func BenchmarkEventHeap(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h eventHeap
	for range 1000 {
		h.push(rng.Float64()*10, eventBody{kind: evFinish})
	}
	for b.Loop() {
		e := h.pop()
		h.push(e.t+rng.Float64()*10, e.eventBody)
	}
}

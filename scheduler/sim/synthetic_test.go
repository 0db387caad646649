package sim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/workflow"
)

var update = flag.Bool("update", false, "rewrite the shipped synthetic profiles")

// mlPipelineSynthetic is the made-up model behind
// scheduler/testdata/ml-pipeline.synthetic.json (NOT measured): preprocess
// scales to ~1.5 cores, the classifiers are single-threaded, classify-shape
// needs ~300 MiB.
func mlPipelineSynthetic() map[string]SyntheticStage {
	return map[string]SyntheticStage{
		"preprocess":       {SerialMs: 150, ParallelMs: 900, MaxCores: 1.5, WorkingSetMiB: 200, MemoryPenalty: 0.6, Noise: 0.08, TailProb: 0.02},
		"detect":           {SerialMs: 200, ParallelMs: 400, MaxCores: 2, WorkingSetMiB: 150, MemoryPenalty: 0.5, Noise: 0.08, TailProb: 0.02},
		"classify-shape":   {SerialMs: 100, ParallelMs: 700, MaxCores: 1, WorkingSetMiB: 300, MemoryPenalty: 0.8, Noise: 0.08, TailProb: 0.02},
		"classify-texture": {SerialMs: 100, ParallelMs: 500, MaxCores: 1, WorkingSetMiB: 200, MemoryPenalty: 0.5, Noise: 0.08, TailProb: 0.02},
		"aggregate":        {SerialMs: 60, ParallelMs: 40, MaxCores: 1, WorkingSetMiB: 64, MemoryPenalty: 0.3, Noise: 0.1, TailProb: 0.02},
	}
}

// defaultGrid is the grid `baton profile` measures by default.
func defaultGrid() profile.Grid {
	return profile.Grid{CPUMilli: []int64{250, 500, 1000, 2000}, MemoryMiB: []int64{128, 256, 512}}
}

// loadWorkflow parses a sample workflow from dags/.
func loadWorkflow(t testing.TB, name string) *workflow.Workflow {
	t.Helper()
	path := filepath.Join("..", "..", "dags", name+".yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := workflow.Parse(path, src)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestShippedSyntheticProfile checks that the shipped synthetic profile is
// what its generator makes (go test -run ShippedSynthetic -update rewrites it).
func TestShippedSyntheticProfile(t *testing.T) {
	w := loadWorkflow(t, "ml-pipeline")
	p, err := Synthetic(w, mlPipelineSynthetic(), defaultGrid(), 30, 6, time0())
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "testdata", "ml-pipeline.synthetic.json")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its generator; run go test ./scheduler/sim -run ShippedSynthetic -update", path)
	}
	if _, err := profile.Parse(path, got); err != nil {
		t.Fatal(err)
	}
}

// time0 is the shipped profiles' timestamp.
func time0() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }

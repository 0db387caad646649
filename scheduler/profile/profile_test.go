package profile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/workflow"
)

func mlPipeline(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "dags", "ml-pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestWithFixedResources(t *testing.T) {
	out, err := WithFixedResources("ml-pipeline.yaml", mlPipeline(t), "ml-pipeline-prof-250m-128mi", 250, 128)
	if err != nil {
		t.Fatal(err)
	}
	w, err := workflow.Parse("rewritten.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if w.Metadata.Name != "ml-pipeline-prof-250m-128mi" {
		t.Errorf("name %q", w.Metadata.Name)
	}
	for name, f := range w.Spec.Functions {
		if f.Resources.CPU != (workflow.CPU{Milli: 250}) || f.Resources.Memory != (workflow.Memory{Bytes: 128 << 20}) {
			t.Errorf("function %s: resources %+v", name, f.Resources)
		}
	}
	if len(w.Spec.Stages) != 5 || w.Spec.QoS.Latency != 3*time.Second {
		t.Errorf("stages or qos lost: %d stages, qos %+v", len(w.Spec.Stages), w.Spec.QoS)
	}
}

func TestGridName(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"ml-pipeline", "ml-pipeline-prof-250m-128mi"},
		{strings.Repeat("a", 60), strings.Repeat("a", 63-len("-prof-250m-128mi")) + "-prof-250m-128mi"},
	} {
		if got := GridName(tc.name, 250, 128); got != tc.want || len(got) > 63 {
			t.Errorf("GridName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// fakeInvoker is a deterministic stand-in for a running Baton: a stage's
// execution time is 1e5 / cpu ms plus the repetition number, and the
// foreach-like stage "detect" reports 2 calls.
type fakeInvoker struct {
	deployed map[string]*workflow.Workflow
	deleted  []string
	calls    map[string]int
	runs     map[string]string // invocation → workflow
	failAt   string
}

func newFakeInvoker() *fakeInvoker {
	return &fakeInvoker{deployed: map[string]*workflow.Workflow{}, calls: map[string]int{}, runs: map[string]string{}}
}

func (f *fakeInvoker) Deploy(_ context.Context, filename string, src []byte) error {
	w, err := workflow.Parse(filename, src)
	if err != nil {
		return err
	}
	f.deployed[w.Metadata.Name] = w
	return nil
}

func (f *fakeInvoker) Invoke(_ context.Context, name string, _ []byte) (string, error) {
	if name == f.failAt {
		return "", errors.New("stage detect failed")
	}
	if _, ok := f.deployed[name]; !ok {
		return "", fmt.Errorf("workflow %q not deployed", name)
	}
	f.calls[name]++
	id := fmt.Sprintf("%s#%d", name, f.calls[name])
	f.runs[id] = name
	return id, nil
}

func (f *fakeInvoker) StageTimings(_ context.Context, id string) ([]StageTiming, error) {
	w := f.deployed[f.runs[id]]
	n := f.calls[f.runs[id]]
	var out []StageTiming
	for _, st := range w.Spec.Stages {
		cpu := w.Spec.Functions[st.Function].Resources.CPU.Milli
		calls := 1
		if st.Name == "detect" {
			calls = 2
		}
		out = append(out, StageTiming{Stage: st.Name, Calls: calls, ExecMs: float64(calls) * (1e5/float64(cpu) + float64(n))})
	}
	return out, nil
}

func (f *fakeInvoker) Delete(_ context.Context, name string) error {
	delete(f.deployed, name)
	f.deleted = append(f.deleted, name)
	return nil
}

func TestMeasureWithFakeInvoker(t *testing.T) {
	inv := newFakeInvoker()
	grid := Grid{CPUMilli: []int64{250, 1000}, MemoryMiB: []int64{128, 512}}
	var progress []string
	p, err := Measure(context.Background(), inv, "ml-pipeline.yaml", mlPipeline(t), MeasureOptions{
		Grid: grid, Reps: 3, Warmup: 1, Source: "measured: fake", Now: time.Unix(0, 0),
		Progress: func(done, total int, point string) {
			progress = append(progress, fmt.Sprintf("%d/%d %s", done, total, point))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.deployed) != 0 || len(inv.deleted) != 4 {
		t.Errorf("left deployed %v, deleted %v", inv.deployed, inv.deleted)
	}
	if len(progress) != 4 || progress[3] != "4/4 1000m/512Mi" {
		t.Errorf("progress %v", progress)
	}
	pre := p.Stage("preprocess")
	// Warm-up is invocation 1, measured ones 2..4: 1e5/250 + n.
	if got := pre.Points[0].LatencyMs; fmt.Sprint(got) != "[402 403 404]" {
		t.Errorf("preprocess at 250m/128Mi: %v", got)
	}
	if d := p.Stage("detect"); d.Items != 2 || d.Points[2].LatencyMs[0] != 102 {
		t.Errorf("detect: items %d, first latency at 1000m %v (want per-call 102)", d.Items, d.Points[2].LatencyMs)
	}
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("roundtrip.json", data); err != nil {
		t.Fatal(err)
	}
}

func TestMeasureFailureCleansUp(t *testing.T) {
	inv := newFakeInvoker()
	inv.failAt = GridName("ml-pipeline", 250, 128)
	_, err := Measure(context.Background(), inv, "ml-pipeline.yaml", mlPipeline(t), MeasureOptions{
		Grid: Grid{CPUMilli: []int64{250}, MemoryMiB: []int64{128}}, Reps: 2, Source: "measured: fake"})
	if err == nil || !strings.Contains(err.Error(), "250m/128Mi") {
		t.Fatalf("error %v, want one naming the grid point", err)
	}
	if len(inv.deployed) != 0 {
		t.Errorf("a failed point stayed deployed: %v", inv.deployed)
	}
}

func TestValidateRejects(t *testing.T) {
	good := func() *Profile {
		return &Profile{Version: 1, Workflow: "w", Source: "synthetic: t", Grid: Grid{CPUMilli: []int64{500}, MemoryMiB: []int64{128}},
			Stages: []Stage{{Name: "a", Function: "a", Items: 1, Points: []Point{{CPUMilli: 500, MemoryMiB: 128, LatencyMs: []float64{1}}}}}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(p *Profile)
		want   string
	}{
		{"version", func(p *Profile) { p.Version = 2 }, "version 2"},
		{"grid order", func(p *Profile) { p.Grid.CPUMilli = []int64{500, 250} }, "ascending"},
		{"missing point", func(p *Profile) { p.Grid.MemoryMiB = []int64{128, 256} }, "want 2"},
		{"off grid", func(p *Profile) { p.Stages[0].Points[0].CPUMilli = 400 }, "not on the grid"},
		{"bad latency", func(p *Profile) { p.Stages[0].Points[0].LatencyMs = []float64{-1} }, "positive"},
		{"items", func(p *Profile) { p.Stages[0].Items = 0 }, "items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			tc.mutate(p)
			if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

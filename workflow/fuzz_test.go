package workflow

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that it returns
// either a workflow the engine accepts (with every when: compiled) or a
// non-empty *Problems. It is seeded with the sample workflows of dags/ and
// the bad documents of TestParseProblems; run it for long outside go test:
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 10m ./workflow/
func FuzzParse(f *testing.F) {
	samples, err := filepath.Glob(filepath.Join("..", "dags", "*.yaml"))
	if err != nil || len(samples) == 0 {
		f.Fatalf("no sample workflows in ../dags: %v", err)
	}
	for _, path := range samples {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tt := range parseProblemCases() {
		f.Add([]byte(tt.doc))
	}
	seeds := []string{
		mlPipeline,
		header + oneFunction + "  stages: [{name: a, function: fn}]\n",
		header + oneFunction + "  stages:\n    - {name: a, function: fn, needs: [b]}\n    - {name: b, function: fn, needs: [a]}\n",
		header + "  functions: {fn: {image: i, resources: {cpu: auto, memory: auto}, bounds: {cpu: [2, 1]}}}\n  stages: [{name: a, function: fn}]\n",
		"a: &a [1]\nb: *a\n",
		"a: [",
		"- 1\n- 2\n",
		"---\n---\n",
		"{apiVersion: baton.dev/v1, kind: Workflow, metadata: {name: x}, spec: {stages: [{name: a, function: fn, retries: 99}]}}",
		"apiVersion: baton.dev/v1\nkind: Workflow\nmetadata: {name: x}\nspec: {qos: {latency: -1s, percentile: nan}}\n",
		"\xff\xfe",
		"",
		header + oneFunction + "  timeout: 30s\n  stages:\n    - {name: a, function: fn, foreach: ., maxParallel: 4, when: 'size(input) > 0', onError: continue}\n",
		header + oneFunction + "  stages: [{name: a, function: fn, when: 'input.x >'}]\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := Parse("fuzz.yaml", data)
		if err == nil {
			if w == nil || len(w.Spec.Stages) == 0 {
				t.Fatalf("no error but workflow %+v", w)
			}
			if cerr := checkRunnable(w); cerr != nil {
				t.Fatalf("Parse accepted a workflow the engine refuses: %v", cerr)
			}
			for _, st := range w.Spec.Stages {
				if (st.When == "") != (st.condition == nil) {
					t.Fatalf("stage %q: when %q but condition %v", st.Name, st.When, st.condition)
				}
			}
			return
		}
		var ps *Problems
		if !errors.As(err, &ps) || len(*ps) == 0 {
			t.Fatalf("error %T %v is not a non-empty *Problems", err, err)
		}
		if w != nil {
			t.Fatalf("workflow returned with error")
		}
	})
}

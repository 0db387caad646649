package workflow

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that it returns
// either a workflow or a non-empty *Problems.
func FuzzParse(f *testing.F) {
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

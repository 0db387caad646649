package workflow

import (
	"reflect"
	"testing"
)

// graphWorkflow builds a workflow from "name: needs..." pairs, all on function fn.
func graphWorkflow(stages ...[]string) *Workflow {
	w := &Workflow{Metadata: Metadata{Name: "g"}, Spec: Spec{Functions: map[string]*Function{"fn": {Name: "fn"}}}}
	for _, s := range stages {
		w.Spec.Stages = append(w.Spec.Stages, &Stage{Name: s[0], Function: "fn", Needs: s[1:]})
	}
	return w
}

func names(stages []*Stage) []string {
	var out []string
	for _, s := range stages {
		out = append(out, s.Name)
	}
	return out
}

func TestGraph(t *testing.T) {
	w := graphWorkflow([]string{"a"}, []string{"b", "a"}, []string{"c", "a"}, []string{"d", "b", "c"}, []string{"e", "a"})
	if st := w.Stage("c"); st == nil || st.Name != "c" {
		t.Errorf("Stage(c) = %+v", st)
	}
	if st := w.Stage("zz"); st != nil {
		t.Errorf("Stage(zz) = %+v, want nil", st)
	}
	tests := []struct {
		name string
		got  []*Stage
		want []string
	}{
		{"sinks", w.Sinks(), []string{"d", "e"}},
		{"dependents of a", w.Dependents("a"), []string{"b", "c", "e"}},
		{"dependents of b", w.Dependents("b"), []string{"d"}},
		{"dependents of d", w.Dependents("d"), nil},
	}
	for _, tt := range tests {
		if got := names(tt.got); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	var nilW *Workflow
	if nilW.Stage("a") != nil || nilW.Sinks() != nil || nilW.Dependents("a") != nil {
		t.Errorf("nil workflow queries should return nil")
	}
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name   string
		stages [][]string
		want   [][]string
	}{
		{"none", [][]string{{"a"}, {"b", "a"}}, nil},
		{"self only", [][]string{{"a", "a"}}, nil},
		{"two", [][]string{{"a", "b"}, {"b", "a"}}, [][]string{{"a", "b", "a"}}},
		{"three", [][]string{{"x"}, {"a", "x", "c"}, {"b", "a"}, {"c", "b"}}, [][]string{{"a", "b", "c", "a"}}},
		{"shortest through first", [][]string{{"a", "c", "b"}, {"b", "a"}, {"c", "b"}}, [][]string{{"a", "b", "a"}}},
		{"disjoint", [][]string{{"a", "b"}, {"b", "a"}, {"c", "d"}, {"d", "c"}}, [][]string{{"a", "b", "a"}, {"c", "d", "c"}}},
		{"unknown need ignored", [][]string{{"a", "zz"}}, nil},
	}
	for _, tt := range tests {
		w := graphWorkflow(tt.stages...)
		var got [][]string
		for _, c := range cycles(w.Spec.Stages) {
			var ns []string
			for _, i := range c {
				ns = append(ns, w.Spec.Stages[i].Name)
			}
			got = append(got, ns)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: cycles = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckRunnable(t *testing.T) {
	tests := []struct {
		name string
		w    *Workflow
		want string
	}{
		{"nil", nil, "nil workflow"},
		{"no stages", graphWorkflow(), `workflow "g" has no stages`},
		{"duplicate", graphWorkflow([]string{"a"}, []string{"a"}), `duplicate stage name "a"`},
		{"unknown need", graphWorkflow([]string{"a", "b"}), `stage "a": invalid need "b"`},
		{"self", graphWorkflow([]string{"a", "a"}), `stage "a": invalid need "a"`},
		{"cycle", graphWorkflow([]string{"a", "b"}, []string{"b", "a"}), "cycle: a -> b -> a"},
		{"ok", graphWorkflow([]string{"a"}, []string{"b", "a"}), ""},
	}
	for _, tt := range tests {
		err := checkRunnable(tt.w)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: checkRunnable = %q, want %q", tt.name, got, tt.want)
		}
	}
	w := graphWorkflow([]string{"a"})
	w.Spec.Stages[0].Function = "nope"
	if err := checkRunnable(w); err == nil || err.Error() != `stage "a": unknown function "nope"` {
		t.Errorf("unknown function: %v", err)
	}
}

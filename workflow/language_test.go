package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedInvoker answers each stage with its script: a function of the
// input; a stage without one echoes its input.
type scriptedInvoker map[string]func(input string) (string, error)

func (s scriptedInvoker) InvokeStage(_ context.Context, st *Stage, _ *Function, input []byte) ([]byte, error) {
	if f := s[st.Name]; f != nil {
		out, err := f(string(input))
		return []byte(out), err
	}
	return input, nil
}

// parseStages parses a workflow with function fn and the given stages block
// (the YAML list items, indented by four spaces).
func parseStages(t *testing.T, specExtra, stages string) *Workflow {
	t.Helper()
	w, err := Parse("t.yaml", []byte(header+specExtra+oneFunction+"  stages:\n"+stages))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return w
}

// runSummary is what a language test checks of a run.
type runSummary struct {
	output  string
	err     string
	skipped []string
}

func summarize(res *Result, err error) runSummary {
	var s runSummary
	if err != nil {
		s.err = err.Error()
	}
	if res != nil {
		s.output = string(res.Output)
		for _, r := range res.Stages {
			if r.Skipped {
				s.skipped = append(s.skipped, r.Stage)
			}
		}
	}
	return s
}

func TestRunLanguage(t *testing.T) {
	fail := func(string) (string, error) { return "", errors.New("boom") }
	tests := []struct {
		name      string
		specExtra string
		stages    string
		input     string
		inv       scriptedInvoker
		want      runSummary
	}{
		{
			name:   "when true runs the stage",
			stages: "    - {name: a, function: fn, when: 'input.score > 0.5'}\n",
			input:  `{"score": 0.9}`,
			want:   runSummary{output: `{"score": 0.9}`},
		},
		{
			name: "when false skips the stage, passes null, and skips a stage whose only need was skipped",
			stages: "    - {name: a, function: fn, when: 'input.score > 0.5'}\n" +
				"    - {name: b, function: fn, needs: [a]}\n",
			input: `{"score": 0.1}`,
			want:  runSummary{output: `null`, skipped: []string{"a", "b"}},
		},
		{
			name: "a stage with one skipped need of two runs and gets null for it",
			stages: "    - {name: a, function: fn, when: 'input.kind == \"image\"'}\n" +
				"    - {name: b, function: fn, when: 'input.kind == \"text\"'}\n" +
				"    - {name: c, function: fn, needs: [a, b]}\n",
			input: `{"kind": "text"}`,
			want:  runSummary{output: `{"a":null,"b":{"kind": "text"}}`, skipped: []string{"a"}},
		},
		{
			name:   "when that fails at run time fails the stage",
			stages: "    - {name: a, function: fn, when: 'input.missing > 1'}\n",
			input:  `{"score": 1}`,
			want:   runSummary{err: `stage "a": when: no such key: missing`},
		},
		{
			name:   "onError continue passes an error value the next stage can test",
			stages: "    - {name: a, function: fn, onError: continue}\n    - {name: b, function: fn, needs: [a], when: '!has(input.error)'}\n    - {name: c, function: fn, needs: [a], when: 'has(input.error)'}\n",
			input:  `{}`,
			inv:    scriptedInvoker{"a": fail},
			want:   runSummary{output: `{"b":null,"c":{"error":{"stage":"a","message":"boom"}}}`, skipped: []string{"b"}},
		},
		{
			name:   "onError fail (the default) fails the invocation",
			stages: "    - {name: a, function: fn, onError: fail}\n    - {name: b, function: fn, needs: [a]}\n",
			input:  `{}`,
			inv:    scriptedInvoker{"a": fail},
			want:   runSummary{err: `stage "a": boom`},
		},
		{
			name:   "foreach with onError continue keeps the good elements",
			stages: "    - {name: a, function: fn, foreach: xs, onError: continue}\n",
			input:  `{"xs": [1, "bad", 3]}`,
			inv: scriptedInvoker{"a": func(in string) (string, error) {
				if in == `"bad"` {
					return "", errors.New("not a number")
				}
				return in + "0", nil
			}},
			want: runSummary{output: `[10,{"error":{"stage":"a","message":"element 1: not a number"}},30]`},
		},
		{
			name:   "foreach over the whole input chains fan-outs",
			stages: "    - {name: a, function: fn, foreach: xs}\n    - {name: b, function: fn, needs: [a], foreach: .}\n",
			input:  `{"xs": [1, 2]}`,
			inv:    scriptedInvoker{"b": func(in string) (string, error) { return "[" + in + "]", nil }},
			want:   runSummary{output: `[[1],[2]]`},
		},
		{
			name:   "foreach path missing at run time names the path",
			stages: "    - {name: a, function: fn, foreach: data.segments}\n",
			input:  `{"data": {"frames": []}}`,
			want:   runSummary{err: `stage "a": foreach path "data.segments": not found in stage input`},
		},
		{
			name:   "foreach over an empty array gives an empty array",
			stages: "    - {name: a, function: fn, foreach: xs}\n",
			input:  `{"xs": []}`,
			want:   runSummary{output: `[]`},
		},
		{
			name:      "workflow timeout",
			specExtra: "  timeout: 50ms\n",
			stages:    "    - {name: a, function: fn}\n",
			input:     `{}`,
			inv: scriptedInvoker{"a": func(string) (string, error) {
				time.Sleep(200 * time.Millisecond)
				return "late", nil
			}},
			want: runSummary{err: `run workflow "wf": timed out after 50ms (spec.timeout): context deadline exceeded`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := parseStages(t, tt.specExtra, tt.stages)
			inv := tt.inv
			if inv == nil {
				inv = scriptedInvoker{}
			}
			got := summarize(fastEngine().Run(context.Background(), w, []byte(tt.input), inv))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRunWorkflowTimeoutIsDeadlineExceeded(t *testing.T) {
	w := parseStages(t, "  timeout: 20ms\n", "    - {name: a, function: fn, retries: 3}\n")
	inv := invokerFunc(func(ctx context.Context, _ *Stage, _ *Function, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	start := time.Now()
	_, err := Run(context.Background(), w, []byte(`{}`), inv)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v after a 20ms timeout", d)
	}
}

func TestRunStageMaxParallel(t *testing.T) {
	w := parseStages(t, "", "    - {name: a, function: fn, foreach: xs, maxParallel: 2}\n")
	var cur, peak atomic.Int32
	inv := invokerFunc(func(_ context.Context, _ *Stage, _ *Function, in []byte) ([]byte, error) {
		c := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		return in, nil
	})
	e := &Engine{MaxParallel: 16}
	if _, err := e.Run(context.Background(), w, []byte(`{"xs": [1,2,3,4,5,6,7,8]}`), inv); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("peak concurrency %d, want <= maxParallel 2", p)
	}
}

func TestRunLimits(t *testing.T) {
	deep := strings.Repeat("[", 10) + strings.Repeat("]", 10)
	tests := []struct {
		name   string
		limits Limits
		stages string
		input  string
		inv    scriptedInvoker
		want   string
	}{
		{
			name:   "fan-out width",
			limits: Limits{MaxFanOut: 3},
			stages: "    - {name: a, function: fn, foreach: xs}\n",
			input:  `{"xs": [1, 2, 3, 4]}`,
			want:   `stage "a": foreach path "xs": 4 elements; the fan-out limit is 3`,
		},
		{
			name:   "payload size of the workflow input",
			limits: Limits{MaxPayloadBytes: 10},
			stages: "    - {name: a, function: fn}\n",
			input:  `{"x": "0123456789"}`,
			want:   `run workflow "wf": workflow input is 19 bytes; the limit between stages is 10`,
		},
		{
			name:   "payload size of a stage output",
			limits: Limits{MaxPayloadBytes: 10},
			stages: "    - {name: a, function: fn}\n    - {name: b, function: fn, needs: [a]}\n",
			input:  `{}`,
			inv:    scriptedInvoker{"a": func(string) (string, error) { return `"0123456789"`, nil }},
			want:   `stage "a": output is 12 bytes; the limit between stages is 10`,
		},
		{
			name:   "nesting depth of the input",
			limits: Limits{MaxInputDepth: 9},
			stages: "    - {name: a, function: fn}\n",
			input:  deep,
			want:   `run workflow "wf": workflow input nests JSON arrays and objects more than 9 levels deep`,
		},
		{
			name:   "nesting depth of a stage output, brackets in strings ignored",
			limits: Limits{MaxInputDepth: 9},
			stages: "    - {name: a, function: fn}\n",
			input:  `{"s": "[[[[[[[[[[[[[[[[[[[[\"[[[["}`,
			inv:    scriptedInvoker{"a": func(string) (string, error) { return deep, nil }},
			want:   `stage "a": output nests JSON arrays and objects more than 9 levels deep`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := parseStages(t, "", tt.stages)
			e := &Engine{Limits: tt.limits}
			inv := tt.inv
			if inv == nil {
				inv = scriptedInvoker{}
			}
			_, err := e.Run(context.Background(), w, []byte(tt.input), inv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestRunCompilesConditionsOfHandBuiltStages(t *testing.T) {
	w := graphWorkflow([]string{"a"})
	w.Spec.Stages[0].When = "input.go == true"
	res, err := Run(context.Background(), w, []byte(`{"go": false}`), scriptedInvoker{})
	if err != nil || string(res.Output) != "null" || !res.Stages[0].Skipped {
		t.Errorf("res %+v, err %v; want a skipped stage", res, err)
	}
	w.Spec.Stages[0].When = "input.go =="
	_, err = Run(context.Background(), w, []byte(`{}`), scriptedInvoker{})
	if err == nil || !strings.HasPrefix(err.Error(), `run workflow: stage "a": when: expression does not compile: 1:12: Syntax error`) {
		t.Errorf("err = %v", err)
	}
}

func TestParseWithLimits(t *testing.T) {
	doc := header + oneFunction + "  stages:\n    - {name: a, function: fn}\n    - {name: b, function: fn}\n"
	_, err := ParseWithLimits("t.yaml", []byte(doc), Limits{MaxStages: 1})
	if want := "t.yaml:11:5: spec.stages: 2 stages; the limit is 1"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	_, err = ParseWithLimits("t.yaml", []byte(doc), Limits{MaxDocumentBytes: 10})
	if want := "t.yaml: document is 219 bytes; the limit is 10"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

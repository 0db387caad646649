package workflow

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// header is lines 1-5 of most test documents; a case's body starts at line 6.
const header = `apiVersion: baton.dev/v1
kind: Workflow
metadata:
  name: wf
spec:
`

// oneFunction declares function fn on lines 6-9 (after header).
const oneFunction = `  functions:
    fn:
      image: img
      resources: {cpu: 250m, memory: 128Mi}
`

// mlPipeline is the design document's example, with the aggregate function it uses.
const mlPipeline = `apiVersion: baton.dev/v1
kind: Workflow
metadata:
  name: ml-pipeline
spec:
  qos: {latency: 1500ms, percentile: 95}      # end-to-end target
  functions:
    preprocess:
      image: baton.local/fn-preprocess:v1
      resources: {cpu: auto, memory: auto}      # auto: the scheduler chooses within bounds
      bounds: {cpu: [250m, 2000m], memory: [128Mi, 1Gi]}
    detect:
      image: baton.local/fn-detect:v1
      resources: {cpu: 1000m, memory: 512Mi}    # fixed
      env: {MODEL: yolo, THRESHOLD: 0.5}
    aggregate:
      image: baton.local/fn-aggregate:v1
      resources: {cpu: "0.5", memory: 1Gi}
  stages:
    - {name: preprocess, function: preprocess}
    - {name: detect, function: detect, needs: [preprocess], foreach: frames, timeout: 5s, retries: 2}
    - {name: aggregate, function: aggregate, needs: [detect]}
`

func TestParseValid(t *testing.T) {
	w, err := Parse("ml.yaml", []byte(mlPipeline))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if w.APIVersion != APIVersion || w.Kind != KindWorkflow || w.Metadata.Name != "ml-pipeline" {
		t.Errorf("header = %q %q %q", w.APIVersion, w.Kind, w.Metadata.Name)
	}
	if w.Spec.QoS != (QoS{Latency: 1500 * time.Millisecond, Percentile: 95}) {
		t.Errorf("qos = %+v", w.Spec.QoS)
	}
	pre := w.Spec.Functions["preprocess"]
	if pre == nil || pre.Name != "preprocess" || pre.Image != "baton.local/fn-preprocess:v1" {
		t.Fatalf("preprocess = %+v", pre)
	}
	if !pre.Resources.CPU.Auto || !pre.Resources.Memory.Auto {
		t.Errorf("preprocess resources = %+v, want auto", pre.Resources)
	}
	wantBounds := Bounds{CPUMilli: [2]int64{250, 2000}, MemoryBytes: [2]int64{128 << 20, 1 << 30}}
	if pre.Bounds == nil || *pre.Bounds != wantBounds {
		t.Errorf("bounds = %+v, want %+v", pre.Bounds, wantBounds)
	}
	if got := pre.DefaultCPUMilli(); got != 2000 {
		t.Errorf("auto DefaultCPUMilli = %d, want 2000", got)
	}
	if got := pre.DefaultMemoryBytes(); got != 1<<30 {
		t.Errorf("auto DefaultMemoryBytes = %d, want 1Gi", got)
	}
	det := w.Spec.Functions["detect"]
	if det.DefaultCPUMilli() != 1000 || det.DefaultMemoryBytes() != 512<<20 || det.Bounds != nil {
		t.Errorf("detect = %+v", det)
	}
	if det.Env["MODEL"] != "yolo" || det.Env["THRESHOLD"] != "0.5" {
		t.Errorf("detect env = %v", det.Env)
	}
	if got := w.Spec.Functions["aggregate"].DefaultCPUMilli(); got != 500 {
		t.Errorf("aggregate cpu = %d, want 500", got)
	}
	if len(w.Spec.Stages) != 3 {
		t.Fatalf("stages = %d, want 3", len(w.Spec.Stages))
	}
	d := w.Spec.Stages[1]
	if d.Name != "detect" || d.Function != "detect" || d.Foreach != "frames" ||
		d.Timeout != 5*time.Second || d.Retries != 2 || len(d.Needs) != 1 || d.Needs[0] != "preprocess" {
		t.Errorf("detect stage = %+v", d)
	}
}

func TestParseOptionalParts(t *testing.T) {
	// No qos, an unused function, fixed resources outside bounds: all fine.
	doc := header + `  functions:
    fn:
      image: img
      resources: {cpu: 4, memory: 2Gi}
      bounds: {cpu: [250m, 2000m], memory: [128Mi, 1Gi]}
      idempotent: true
    unused:
      image: other
      resources: {cpu: 100m, memory: 64Mi}
  stages:
    - name: a
      function: fn
`
	w, err := Parse("ok.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !w.Spec.QoS.IsZero() {
		t.Errorf("qos = %+v, want zero", w.Spec.QoS)
	}
	if got := w.Spec.Functions["fn"].DefaultCPUMilli(); got != 4000 {
		t.Errorf("fixed cpu outside bounds = %d, want 4000", got)
	}
	if !w.Spec.Functions["fn"].Idempotent || w.Spec.Functions["unused"].Idempotent {
		t.Errorf("idempotent = %v and %v, want true (given) and false (default)", w.Spec.Functions["fn"].Idempotent, w.Spec.Functions["unused"].Idempotent)
	}
	_, err = Parse("t.yaml", []byte(strings.Replace(doc, "idempotent: true", "idempotent: yes", 1)))
	if err == nil || !strings.Contains(err.Error(), `t.yaml:11:19: spec.functions.fn.idempotent: "yes" is not a boolean: want true or false`) {
		t.Errorf("idempotent: yes = %v", err)
	}
}

func TestParseQueue(t *testing.T) {
	tests := []struct {
		name, spec string
		want       Queue
	}{
		{"absent: the orchestrator's", "", Queue{}},
		{"both", "  queue: {maxWaiting: 10, maxWait: 5s}\n", Queue{MaxWaiting: 10, MaxWait: 5 * time.Second}},
		{"one", "  queue:\n    maxWait: 250ms\n", Queue{MaxWait: 250 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Parse("t.yaml", []byte(header+tt.spec+oneFunction+"  stages: [{name: a, function: fn}]\n"))
			if err != nil {
				t.Fatal(err)
			}
			if w.Spec.Queue != tt.want {
				t.Errorf("queue = %+v, want %+v", w.Spec.Queue, tt.want)
			}
		})
	}
}

func TestParseNetworkAndSecurity(t *testing.T) {
	doc := header + `  network: {egress: internet}
  functions:
    fn:
      image: img
      resources: {cpu: 250m, memory: 128Mi}
      security:
        capabilities: [NET_BIND_SERVICE, NET_RAW]
        runAsRoot: true
        privileged: false
        hostPaths: []
    plain:
      image: img
      resources: {cpu: 250m, memory: 128Mi}
      security: {capabilities: [], runAsRoot: false}
  stages: [{name: a, function: fn}, {name: b, function: plain}]
`
	w, err := Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := w.Spec.Network; got.Egress != EgressInternet || got.EgressAt != (Position{6, 21}) || !got.Internet() {
		t.Errorf("network = %+v, want internet at 6:21", got)
	}
	sec := w.Spec.Functions["fn"].Security
	if !slices.Equal(sec.Capabilities, []string{"NET_BIND_SERVICE", "NET_RAW"}) ||
		!slices.Equal(sec.CapabilitiesAt, []Position{{12, 24}, {12, 42}}) ||
		!sec.RunAsRoot || sec.RunAsRootAt != (Position{13, 20}) || sec.IsZero() {
		t.Errorf("fn security = %+v", sec)
	}
	if sec := w.Spec.Functions["plain"].Security; !sec.IsZero() || sec.RunAsRootAt != (Position{}) {
		t.Errorf("plain security = %+v, want none", sec)
	}

	tests := []struct {
		name, network string
		want          Egress
	}{
		{"absent", "", ""},
		{"none", "  network: {egress: none}\n", EgressNone},
		{"empty block", "  network: {}\n", ""},
		{"internet", "  network:\n    egress: internet\n", EgressInternet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Parse("t.yaml", []byte(header+tt.network+oneFunction+"  stages: [{name: a, function: fn}]\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if w.Spec.Network.Egress != tt.want || w.Spec.Network.Internet() != (tt.want == EgressInternet) {
				t.Errorf("egress = %q, want %q", w.Spec.Network.Egress, tt.want)
			}
			if !w.Spec.Functions["fn"].Security.IsZero() {
				t.Errorf("security = %+v, want none", w.Spec.Functions["fn"].Security)
			}
		})
	}
}

func TestCheckCapability(t *testing.T) {
	tests := []struct{ name, wantErr string }{
		{"NET_BIND_SERVICE", ""},
		{"CHECKPOINT_RESTORE", ""},
		{"SYS_ADMIN", ""},
		{"CAP_SYS_ADMIN", `write capability "CAP_SYS_ADMIN" without the CAP_ prefix: "SYS_ADMIN"`},
		{"cap_sys_admin", `write capability "cap_sys_admin" without the CAP_ prefix: "SYS_ADMIN"`},
		{"sys_admin", `write capability "sys_admin" in capitals: "SYS_ADMIN"`},
		{"ALL", `unknown capability "ALL"`},
		{"", `unknown capability ""`},
	}
	for _, tt := range tests {
		err := CheckCapability(tt.name)
		if (err == nil) != (tt.wantErr == "") || err != nil && !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("CheckCapability(%q) = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if n := len(Capabilities()); n != 41 {
		t.Errorf("%d capabilities, want the 41 of Linux 5.9 and later", n)
	}
}

// TestParseProblems checks each kind of problem with its exact message and position.
// parseProblemCase is one bad document and every problem Parse must report.
type parseProblemCase struct {
	name string
	doc  string
	want []string
}

// parseProblemCases are the bad documents of TestParseProblems, which also
// seed FuzzParse.
func parseProblemCases() []parseProblemCase {
	return []parseProblemCase{
		{
			name: "wrong apiVersion",
			doc:  strings.Replace(header, "baton.dev/v1", "v1", 1) + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:1:13: apiVersion: unsupported apiVersion "v1" (want "baton.dev/v1")`},
		},
		{
			name: "missing apiVersion",
			doc:  strings.Replace(header, "apiVersion: baton.dev/v1\n", "", 1) + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:1:1: apiVersion: required (want "baton.dev/v1")`},
		},
		{
			name: "wrong kind",
			doc:  strings.Replace(header, "kind: Workflow", "kind: Pipeline", 1) + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:2:7: kind: unsupported kind "Pipeline" (want "Workflow")`},
		},
		{
			name: "missing metadata name",
			doc:  strings.Replace(header, "  name: wf\n", "  labels: {}\n", 1) + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{
				`t.yaml:3:1: metadata.name: required`,
				`t.yaml:4:3: metadata: unknown field "labels"`,
			},
		},
		{
			name: "invalid metadata name",
			doc:  strings.Replace(header, "name: wf", "name: ML_Pipeline", 1) + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:4:9: metadata.name: invalid name "ML_Pipeline": must contain only lowercase letters, digits and '-'`},
		},
		{
			name: "metadata name too long",
			doc:  strings.Replace(header, "name: wf", "name: "+strings.Repeat("a", 64), 1) + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:4:9: metadata.name: invalid name "` + strings.Repeat("a", 64) + `": must be at most 63 characters`},
		},
		{
			name: "metadata name starts with dash",
			doc:  strings.Replace(header, "name: wf", "name: -wf", 1) + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:4:9: metadata.name: invalid name "-wf": must start and end with a lowercase letter or digit`},
		},
		{
			name: "no stages",
			doc:  header + oneFunction,
			want: []string{`t.yaml:5:1: spec.stages: at least one stage is required`},
		},
		{
			name: "empty stages",
			doc:  header + oneFunction + "  stages: []\n",
			want: []string{`t.yaml:10:11: spec.stages: at least one stage is required`},
		},
		{
			name: "duplicate stage names",
			doc: header + oneFunction + `  stages:
    - {name: a, function: fn}
    - {name: a, function: fn}
`,
			want: []string{`t.yaml:12:14: spec.stages[1].name: duplicate stage name "a" (first declared at line 11)`},
		},
		{
			name: "stage without function",
			doc: header + oneFunction + `  stages:
    - name: a
`,
			want: []string{`t.yaml:11:7: spec.stages[0].function: required`},
		},
		{
			name: "unknown function with suggestion",
			doc: header + oneFunction + `  stages:
    - {name: a, function: fm}
`,
			want: []string{`t.yaml:11:27: spec.stages[0].function: unknown function "fm" (did you mean "fn"?)`},
		},
		{
			name: "unknown function without suggestion",
			doc: header + oneFunction + `  stages:
    - {name: a, function: resize-images}
`,
			want: []string{`t.yaml:11:27: spec.stages[0].function: unknown function "resize-images"`},
		},
		{
			name: "no functions declared",
			doc: header + `  stages:
    - {name: a, function: fn}
`,
			want: []string{`t.yaml:7:27: spec.stages[0].function: unknown function "fn": spec.functions declares none`},
		},
		{
			name: "unknown need with suggestion",
			doc: header + oneFunction + `  stages:
    - {name: preprocess, function: fn}
    - {name: detect, function: fn, needs: [prepro]}
`,
			want: []string{`t.yaml:12:44: spec.stages[1].needs[0]: unknown stage "prepro" (did you mean "preprocess"?)`},
		},
		{
			name: "self dependency",
			doc: header + oneFunction + `  stages:
    - name: a
      function: fn
      needs: [a]
`,
			want: []string{`t.yaml:13:15: spec.stages[0].needs[0]: self-dependency: stage "a" needs itself`},
		},
		{
			name: "duplicate need",
			doc: header + oneFunction + `  stages:
    - {name: a, function: fn}
    - {name: b, function: fn, needs: [a, a]}
`,
			want: []string{`t.yaml:12:42: spec.stages[1].needs[1]: duplicate need "a"`},
		},
		{
			name: "cycle",
			doc: header + oneFunction + `  stages:
    - {name: start, function: fn}
    - {name: a, function: fn, needs: [start, c]}
    - {name: b, function: fn, needs: [a]}
    - {name: c, function: fn, needs: [b]}
`,
			want: []string{`t.yaml:12:46: spec.stages[1].needs[1]: cycle: a -> b -> c -> a`},
		},
		{
			name: "two cycles",
			doc: header + oneFunction + `  stages:
    - {name: a, function: fn, needs: [b]}
    - {name: b, function: fn, needs: [a]}
    - {name: c, function: fn, needs: [d]}
    - {name: d, function: fn, needs: [c]}
`,
			want: []string{
				`t.yaml:11:39: spec.stages[0].needs[0]: cycle: a -> b -> a`,
				`t.yaml:13:39: spec.stages[2].needs[0]: cycle: c -> d -> c`,
			},
		},
		{
			name: "missing image",
			doc: header + `  functions:
    fn:
      resources: {cpu: 250m, memory: 128Mi}
  stages: [{name: a, function: fn}]
`,
			want: []string{`t.yaml:7:5: spec.functions.fn.image: required (e.g. "baton.local/fn-detect:v1")`},
		},
		{
			name: "an image reference that does not parse",
			doc: header + `  functions:
    fn:
      image: Acme/Resize::1
      resources: {cpu: 250m, memory: 128Mi}
  stages: [{name: a, function: fn}]
`,
			want: []string{`t.yaml:8:14: spec.functions.fn.image: invalid image reference "Acme/Resize::1": invalid reference format: repository name (Resize) must be lowercase (want host[:port]/path[:tag][@sha256:digest], e.g. registry.example.com/acme/resize:1.4)`},
		},
		{
			name: "missing resources",
			doc: header + `  functions:
    fn: {image: img}
  stages: [{name: a, function: fn}]
`,
			want: []string{`t.yaml:7:5: spec.functions.fn.resources: required (e.g. {cpu: 250m, memory: 128Mi} or {cpu: auto, memory: auto})`},
		},
		{
			name: "auto without bounds",
			doc: header + `  functions:
    fn:
      image: img
      resources: {cpu: auto, memory: auto}
  stages: [{name: a, function: fn}]
`,
			want: []string{
				`t.yaml:9:24: spec.functions.fn.resources.cpu: auto needs bounds.cpu, e.g. bounds: {cpu: [250m, 2000m]}`,
				`t.yaml:9:38: spec.functions.fn.resources.memory: auto needs bounds.memory, e.g. bounds: {memory: [128Mi, 1Gi]}`,
			},
		},
		{
			name: "auto memory with only cpu bounds",
			doc: header + `  functions:
    fn:
      image: img
      resources: {cpu: auto, memory: auto}
      bounds: {cpu: [250m, 1]}
  stages: [{name: a, function: fn}]
`,
			want: []string{`t.yaml:9:38: spec.functions.fn.resources.memory: auto needs bounds.memory, e.g. bounds: {memory: [128Mi, 1Gi]}`},
		},
		{
			name: "inverted bounds",
			doc: header + `  functions:
    fn:
      image: img
      resources: {cpu: auto, memory: auto}
      bounds: {cpu: [2000m, 250m], memory: [1Gi, 128Mi]}
  stages: [{name: a, function: fn}]
`,
			want: []string{
				`t.yaml:10:21: spec.functions.fn.bounds.cpu: inverted bounds: low 2 is above high 250m`,
				`t.yaml:10:44: spec.functions.fn.bounds.memory: inverted bounds: low 1Gi is above high 128Mi`,
			},
		},
		{
			name: "bounds not a pair",
			doc: header + `  functions:
    fn:
      image: img
      resources: {cpu: auto, memory: 1Gi}
      bounds: {cpu: [250m], memory: [1Gi, auto]}
  stages: [{name: a, function: fn}]
`,
			want: []string{
				`t.yaml:10:21: spec.functions.fn.bounds.cpu: must be [low, high], got 1 items`,
				`t.yaml:10:43: spec.functions.fn.bounds.memory[1]: a bound must be a fixed quantity, not auto`,
			},
		},
		{
			name: "malformed quantities",
			doc: header + `  functions:
    fn:
      image: img
      resources: {cpu: abc, memory: -1Gi}
    zero:
      image: img
      resources:
        cpu: 0
        memory: 512MB
  stages: [{name: a, function: fn}]
`,
			want: []string{
				`t.yaml:9:24: spec.functions.fn.resources.cpu: invalid CPU quantity "abc": want millicores like "250m", cores like "1" or "0.5", or "auto"`,
				`t.yaml:9:37: spec.functions.fn.resources.memory: invalid memory quantity "-1Gi": must be positive`,
				`t.yaml:13:14: spec.functions.zero.resources.cpu: invalid CPU quantity "0": must be positive`,
				`t.yaml:14:17: spec.functions.zero.resources.memory: invalid memory quantity "512MB": ` + memoryHint,
			},
		},
		{
			name: "invalid function name",
			doc: header + `  functions:
    Resize_Images:
      image: img
      resources: {cpu: 1, memory: 1Gi}
  stages: [{name: a, function: Resize_Images}]
`,
			want: []string{`t.yaml:7:5: spec.functions: invalid function name "Resize_Images": must contain only lowercase letters, digits and '-'`},
		},
		{
			name: "qos latency not positive",
			doc:  header + "  qos: {latency: 0s, percentile: 95}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:18: spec.qos.latency: must be > 0, got 0s`},
		},
		{
			name: "qos latency negative",
			doc:  header + "  qos: {latency: -1s, percentile: 95}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:18: spec.qos.latency: must be > 0, got -1s`},
		},
		{
			name: "qos latency without unit",
			doc:  header + "  qos: {latency: 1500, percentile: 95}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:18: spec.qos.latency: invalid duration "1500": want a number with a unit, like "1500ms" or "2s"`},
		},
		{
			name: "percentile 100",
			doc:  header + "  qos: {latency: 1s, percentile: 100}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:34: spec.qos.percentile: must be between 0 and 100 (exclusive), got 100`},
		},
		{
			name: "percentile 0, trailing empty document",
			doc: header + "  qos: {latency: 1s, percentile: 0}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n" +
				"---\n",
			want: []string{`t.yaml:6:34: spec.qos.percentile: must be between 0 and 100 (exclusive), got 0`},
		},
		{
			name: "percentile not a number",
			doc:  header + "  qos: {latency: 1s, percentile: high}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:34: spec.qos.percentile: must be a number, got "high"`},
		},
		{
			name: "qos needs both fields",
			doc:  header + "  qos: {latency: 1s}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:3: spec.qos.percentile: required (e.g. 95)`},
		},
		{
			name: "negative retries",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, retries: -1}]\n",
			want: []string{`t.yaml:10:45: spec.stages[0].retries: must be >= 0, got -1`},
		},
		{
			name: "too many retries",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, retries: 11}]\n",
			want: []string{`t.yaml:10:45: spec.stages[0].retries: must be <= 10, got 11`},
		},
		{
			name: "bad timeout",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, timeout: 0s}, {name: b, function: fn, timeout: 5}]\n",
			want: []string{
				`t.yaml:10:45: spec.stages[0].timeout: must be > 0, got 0s`,
				`t.yaml:10:83: spec.stages[1].timeout: invalid duration "5": want a number with a unit, like "1500ms" or "2s"`,
			},
		},
		{
			name: "bad foreach path",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, foreach: data..items}]\n",
			want: []string{`t.yaml:10:45: spec.stages[0].foreach: invalid path "data..items": empty segment; want a dotted path like "frames" or "data.items", or "." for the whole input`},
		},
		{
			name: "unknown field with suggestion",
			doc: header + `  functions:
    fn:
      imgae: img
      resources: {cpu: 250m, memory: 128Mi}
  stages: [{name: a, function: fn, need: [b]}]
`,
			want: []string{
				`t.yaml:7:5: spec.functions.fn.image: required (e.g. "baton.local/fn-detect:v1")`,
				`t.yaml:8:7: spec.functions.fn: unknown field "imgae" (did you mean "image"?)`,
				`t.yaml:10:36: spec.stages[0]: unknown field "need" (did you mean "needs"?)`,
			},
		},
		{
			name: "unknown top-level field",
			doc:  "specs: {}\n" + header + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:1:1: unknown field "specs" (did you mean "spec"?)`},
		},
		{
			name: "duplicate key",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, name: b}]\n",
			want: []string{`t.yaml:10:36: spec.stages[0].name: duplicate key (first at line 10)`},
		},
		{
			name: "wrong node kinds",
			doc:  header + "  functions: [fn]\n  stages: {name: a}\n",
			want: []string{
				`t.yaml:6:14: spec.functions: must be a mapping, got a list`,
				`t.yaml:7:11: spec.stages: must be a list, got a mapping`,
			},
		},
		{
			name: "env",
			doc: header + `  functions:
    fn:
      image: img
      resources: {cpu: 250m, memory: 128Mi}
      env: {PORT: "80", 1X: y, OK: [1]}
  stages: [{name: a, function: fn}]
`,
			want: []string{
				`t.yaml:10:13: spec.functions.fn.env: variable "PORT" is reserved: the sandbox sets it`,
				`t.yaml:10:25: spec.functions.fn.env: invalid variable name "1X": want letters, digits and '_', not starting with a digit`,
				`t.yaml:10:36: spec.functions.fn.env.OK: must be a string, got a list`,
			},
		},
		{
			name: "malformed YAML",
			doc:  header + "  stages: [{name: a\n  x: y\n",
			// yaml.v3 reports the 0-based line where the flow mapping began.
			want: []string{`t.yaml:5: invalid YAML: did not find expected ',' or '}'`},
		},
		{
			name: "aliases refused",
			doc: header + `  functions:
    fn: &f
      image: img
      resources: {cpu: 250m, memory: 128Mi}
    fn2: *f
  stages: [{name: a, function: fn}]
`,
			want: []string{`t.yaml:10:10: YAML aliases (*f) are not supported; write the value out`},
		},
		{
			name: "empty documents",
			doc:  "---\n---\n",
			want: []string{`t.yaml: empty document: want a workflow starting with apiVersion: baton.dev/v1 and kind: Workflow`},
		},
		{
			name: "empty document",
			doc:  "# nothing here\n",
			want: []string{`t.yaml: empty document: want a workflow starting with apiVersion: baton.dev/v1 and kind: Workflow`},
		},
		{
			name: "two documents",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn}]\n---\nkind: Workflow\n",
			want: []string{`t.yaml:11:1: more than one YAML document; put one workflow per file`},
		},
		{
			name: "not a mapping",
			doc:  "- apiVersion: baton.dev/v1\n",
			want: []string{`t.yaml:1:1: a workflow document must be a mapping with apiVersion, kind, metadata and spec; got a list`},
		},
		{
			name: "when does not compile",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, when: 'input.x >'}]\n",
			want: []string{`t.yaml:10:42: spec.stages[0].when: expression does not compile: 1:10: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`},
		},
		{
			name: "when names an unknown variable",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, when: 'inptu.x > 1'}]\n",
			want: []string{`t.yaml:10:42: spec.stages[0].when: expression does not compile: 1:1: undeclared reference to 'inptu' (in container '')`},
		},
		{
			name: "when is not a condition",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, when: 'size(input) + 1'}]\n",
			want: []string{`t.yaml:10:42: spec.stages[0].when: expression gives int, want a bool`},
		},
		{
			name: "when too long",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, when: '" + strings.Repeat("true && ", 200) + "true'}]\n",
			want: []string{`t.yaml:10:42: spec.stages[0].when: expression is 1604 bytes; the limit is 1024`},
		},
		{
			name: "onError misspelt",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, onError: contnue}]\n",
			want: []string{`t.yaml:10:45: spec.stages[0].onError: must be "fail" or "continue", got "contnue" (did you mean "continue"?)`},
		},
		{
			name: "maxParallel without foreach, and out of range",
			doc: header + oneFunction + `  stages:
    - {name: a, function: fn, maxParallel: 2}
    - {name: b, function: fn, foreach: xs, maxParallel: 0}
    - {name: c, function: fn, foreach: xs, maxParallel: 1001}
`,
			want: []string{
				`t.yaml:11:31: spec.stages[0].maxParallel: only applies to a foreach stage; add foreach: PATH or remove it`,
				`t.yaml:12:57: spec.stages[1].maxParallel: must be >= 1, got 0`,
				`t.yaml:13:57: spec.stages[2].maxParallel: must be <= 1000, got 1001`,
			},
		},
		{
			name: "unknown stage field with suggestion",
			doc:  header + oneFunction + "  stages: [{name: a, function: fn, foreach: xs, maxParalel: 2}]\n",
			want: []string{`t.yaml:10:49: spec.stages[0]: unknown field "maxParalel" (did you mean "maxParallel"?)`},
		},
		{
			name: "workflow timeout not positive",
			doc:  header + "  timeout: 0s\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:12: spec.timeout: must be > 0, got 0s`},
		},
		{
			name: "too many stages",
			doc:  header + oneFunction + "  stages:\n" + strings.Repeat("    - {name: a, function: fn}\n", DefaultMaxStages+1),
			want: []string{`t.yaml:11:5: spec.stages: 101 stages; the limit is 100`},
		},
		{
			name: "queue bounds out of range",
			doc:  header + "  queue: {maxWaiting: 0, maxWait: -1s}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{
				`t.yaml:6:23: spec.queue.maxWaiting: must be >= 1, got 0`,
				`t.yaml:6:35: spec.queue.maxWait: must be > 0, got -1s`,
			},
		},
		{
			name: "unknown queue field",
			doc:  header + "  queue: {maxWaitng: 5}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:11: spec.queue: unknown field "maxWaitng" (did you mean "maxWaiting"?)`},
		},
		{
			name: "unknown egress with suggestion",
			doc:  header + "  network: {egress: internt}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:21: spec.network.egress: must be "none" or "internet", got "internt" (did you mean "internet"?)`},
		},
		{
			name: "unknown network field",
			doc:  header + "  network: {egres: internet}\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:13: spec.network: unknown field "egres" (did you mean "egress"?)`},
		},
		{
			name: "network not a mapping",
			doc:  header + "  network: internet\n" + oneFunction + "  stages: [{name: a, function: fn}]\n",
			want: []string{`t.yaml:6:12: spec.network: must be a mapping, got "internet"`},
		},
		{
			name: "security: bad capabilities, root, privileged, host paths",
			doc: header + `  functions:
    fn:
      image: img
      resources: {cpu: 250m, memory: 128Mi}
      security:
        capabilities: [NET_BIND, CAP_NET_RAW, net_admin, NET_RAW, NET_RAW, {a: b}]
        runAsRoot: yes
        privileged: true
        hostPaths: [/var/run/docker.sock]
        seccomp: unconfined
  stages: [{name: a, function: fn}]
`,
			want: []string{
				`t.yaml:11:24: spec.functions.fn.security.capabilities[0]: unknown capability "NET_BIND" (did you mean "NET_BIND_SERVICE"?): want a Linux capability name without CAP_, like NET_BIND_SERVICE`,
				`t.yaml:11:34: spec.functions.fn.security.capabilities[1]: write capability "CAP_NET_RAW" without the CAP_ prefix: "NET_RAW"`,
				`t.yaml:11:47: spec.functions.fn.security.capabilities[2]: write capability "net_admin" in capitals: "NET_ADMIN"`,
				`t.yaml:11:67: spec.functions.fn.security.capabilities[4]: duplicate capability "NET_RAW" (first at spec.functions.fn.security.capabilities[3])`,
				`t.yaml:11:76: spec.functions.fn.security.capabilities[5]: must be a capability name like NET_BIND_SERVICE, got a mapping`,
				`t.yaml:12:20: spec.functions.fn.security.runAsRoot: "yes" is not a boolean: want true or false`,
				`t.yaml:13:21: spec.functions.fn.security.privileged: Baton runs no privileged sandboxes: ask for the capabilities the function needs instead (capabilities: [NET_BIND_SERVICE]), which the operator must allow`,
				`t.yaml:14:20: spec.functions.fn.security.hostPaths: Baton mounts no host paths into sandboxes: a function gets its image, a writable /tmp and its input; fetch what else it needs over the network (spec.network.egress: internet)`,
				`t.yaml:15:9: spec.functions.fn.security: unknown field "seccomp"`,
			},
		},
		{
			name: "security: wrong shapes",
			doc: header + `  functions:
    fn:
      image: img
      resources: {cpu: 250m, memory: 128Mi}
      security: {capabilities: NET_RAW, hostPaths: /}
    other:
      image: img
      resources: {cpu: 250m, memory: 128Mi}
      security: [privileged]
  stages: [{name: a, function: fn}]
`,
			want: []string{
				`t.yaml:10:32: spec.functions.fn.security.capabilities: must be a list, got "NET_RAW"`,
				`t.yaml:10:52: spec.functions.fn.security.hostPaths: Baton mounts no host paths into sandboxes: a function gets its image, a writable /tmp and its input; fetch what else it needs over the network (spec.network.egress: internet)`,
				`t.yaml:14:17: spec.functions.other.security: must be a mapping, got a list`,
			},
		},
		{
			name: "problems sorted by line",
			doc: strings.Replace(header, "Workflow", "Flow", 1) + `  functions:
    fn:
      resources: {cpu: 250m, memory: 128Mi}
  stages:
    - {name: a, function: fx, retries: -2}
`,
			want: []string{
				`t.yaml:2:7: kind: unsupported kind "Flow" (want "Workflow")`,
				`t.yaml:7:5: spec.functions.fn.image: required (e.g. "baton.local/fn-detect:v1")`,
				`t.yaml:10:27: spec.stages[0].function: unknown function "fx" (did you mean "fn"?)`,
				`t.yaml:10:40: spec.stages[0].retries: must be >= 0, got -2`,
			},
		},
	}
}

func TestParseProblems(t *testing.T) {
	for _, tt := range parseProblemCases() {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Parse("t.yaml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want problems", w)
			}
			if w != nil {
				t.Errorf("Parse returned a workflow with an error")
			}
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T is not *Problems: %v", err, err)
			}
			got := make([]string, len(*ps))
			for i, p := range *ps {
				got[i] = p.Error()
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestParseOversize(t *testing.T) {
	data := []byte(header + strings.Repeat("#", MaxDocumentBytes))
	start := time.Now()
	_, err := Parse("big.yaml", data)
	want := "big.yaml: document is 1048643 bytes; the limit is 1048576"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestParseAliasBomb(t *testing.T) {
	// The classic billion-laughs shape: refused without expanding anything.
	doc := `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(doc))
	var ps *Problems
	if !errors.As(err, &ps) || len(*ps) != 72 {
		t.Fatalf("err = %v, want 72 alias problems", err)
	}
	if (*ps)[0].Error() != "bomb.yaml:2:8: YAML aliases (*a) are not supported; write the value out" {
		t.Errorf("first problem = %v", (*ps)[0])
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestParseProblemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + oneFunction + "  stages:\n")
	for i := 0; i < DefaultMaxStages-10; i++ { // three problems each
		b.WriteString("    - {name: a, function: nope, retries: -1}\n")
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v", err)
	}
	if len(*ps) != maxProblems+1 {
		t.Fatalf("got %d problems, want %d", len(*ps), maxProblems+1)
	}
	if last := (*ps)[maxProblems].Error(); last != "many.yaml: too many problems: only the first 200 are shown" {
		t.Errorf("last = %q", last)
	}
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f.yaml", Line: 3, Col: 4, Field: "spec", Msg: "bad"}, "f.yaml:3:4: spec: bad"},
		{Problem{File: "f.yaml", Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{Problem{File: "f.yaml", Msg: "bad"}, "f.yaml: bad"},
		{Problem{Line: 1, Col: 2, Field: "kind", Msg: "bad"}, ":1:2: kind: bad"},
		{Problem{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.p, got, tt.want)
		}
	}
	var nilPs *Problems
	if got := nilPs.Error(); got != "no problems" {
		t.Errorf("nil Problems = %q", got)
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		got        string
		candidates []string
		want       string
	}{
		{"prepro", []string{"preprocess", "detect", "aggregate"}, "preprocess"},
		{"detct", []string{"preprocess", "detect"}, "detect"},
		{"Image", []string{"image", "env"}, "image"},
		{"x", []string{"preprocess", "detect"}, ""},
		{"resize-images", []string{"fn"}, ""},
		{"a", nil, ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.got, tt.candidates); got != tt.want {
			t.Errorf("suggest(%q, %v) = %q, want %q", tt.got, tt.candidates, got, tt.want)
		}
	}
}

func TestParseTenMegabyteDocument(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + oneFunction + "  stages:\n")
	for b.Len() < 10<<20 {
		b.WriteString("    - {name: a, function: fn}\n")
	}
	data := []byte(b.String())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Parse("big.yaml", data)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	want := fmt.Sprintf("big.yaml: document is %d bytes; the limit is %d", len(data), MaxDocumentBytes)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if elapsed > 100*time.Millisecond {
		t.Errorf("took %v to refuse", elapsed)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes to refuse a 10 MB document", alloc)
	}
}

func TestParseAliasBombBoundedMemory(t *testing.T) {
	// Nine levels of nine aliases would expand to 9^9 (387 million) strings.
	var b strings.Builder
	b.WriteString(`a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.HasPrefix(err.Error(), "bomb.yaml:2:10: YAML aliases (*a0) are not supported; write the value out\n") {
		t.Fatalf("err = %v", err)
	}
	if elapsed > time.Second {
		t.Errorf("took %v", elapsed)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("allocated %d bytes refusing a %d-byte alias bomb", alloc, b.Len())
	}
}

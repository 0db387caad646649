package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"gopkg.in/yaml.v3"
)

// MaxDocumentBytes is the default largest workflow document Parse accepts
// (Limits.MaxDocumentBytes); larger input is refused before any YAML parsing.
const MaxDocumentBytes = 1 << 20

// Parse decodes and validates one workflow document under DefaultLimits.
// filename is only used in messages. On any problem it returns a *Problems
// error listing every problem found, sorted by position, and a nil Workflow.
//
// YAML aliases (*name) are refused outright, so an alias bomb costs no more
// than reading the document once; anchors without aliases are harmless and
// allowed. A file must hold exactly one YAML document. Every when:
// expression is compiled, so a typo in one is a problem here, not a
// failure at run time.
func Parse(filename string, data []byte) (*Workflow, error) {
	return ParseWithLimits(filename, data, DefaultLimits())
}

// ParseWithLimits is Parse under the given limits; zero fields of limits
// take their defaults.
func ParseWithLimits(filename string, data []byte, limits Limits) (*Workflow, error) {
	p := &parser{file: filename, limits: limits.withDefaults()}
	if len(data) > p.limits.MaxDocumentBytes {
		p.add(nil, "", "document is %d bytes; the limit is %d", len(data), p.limits.MaxDocumentBytes)
		return nil, p.result()
	}
	root := p.decodeYAML(data)
	if root == nil {
		return nil, p.result()
	}
	if p.refuseAliases(root); len(p.probs) > 0 {
		return nil, p.result()
	}
	w, src := p.workflow(root)
	p.validate(w, src)
	if err := p.result(); err != nil {
		return nil, err
	}
	return w, nil
}

// decodeYAML reads exactly one YAML document into a node tree and returns
// its root content node, or nil after recording a problem.
func (p *parser) decodeYAML(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := safeDecode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(nil, "", "empty document: want a workflow starting with apiVersion: %s and kind: %s", APIVersion, KindWorkflow)
		} else {
			p.addYAMLError(err)
		}
		return nil
	}
	for {
		// Further documents must be empty (a trailing "---" is harmless).
		var extra yaml.Node
		err := safeDecode(dec, &extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.addYAMLError(err)
			return nil
		}
		if !emptyDocument(&extra) {
			p.add(&extra, "", "more than one YAML document; put one workflow per file")
			return nil
		}
	}
	if emptyDocument(&doc) {
		p.add(nil, "", "empty document: want a workflow starting with apiVersion: %s and kind: %s", APIVersion, KindWorkflow)
		return nil
	}
	return doc.Content[0]
}

// emptyDocument reports whether a decoded document holds nothing but null.
func emptyDocument(doc *yaml.Node) bool {
	return doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 ||
		(isNull(doc.Content[0]) && doc.Content[0].Value == "")
}

// safeDecode runs dec.Decode, turning a panic inside the YAML library into
// an error so that no input can crash the caller.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

// refuseAliases records a problem for every alias in the tree. Aliases are
// not expanded by the node decoder, so the walk is linear in the input.
func (p *parser) refuseAliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.add(n, "", "YAML aliases (*%s) are not supported; write the value out", n.Value)
		return
	}
	for _, c := range n.Content {
		p.refuseAliases(c)
	}
}

// source keeps the YAML nodes that cross-field validation points at.
type source struct {
	root       *mapping
	apiVersion *yaml.Node
	kind       *yaml.Node
	stagesAt   *yaml.Node // the stages value, or where it is missing
	functions  map[string]*funcSource
	stages     []*stageSource // parallel to Spec.Stages
}

// funcSource locates one function's fields.
type funcSource struct {
	at        *yaml.Node // the key naming the function
	path      string
	cpu, mem  *yaml.Node // resources.cpu / resources.memory values
	boundsAt  *yaml.Node // the bounds key, nil when absent
	boundsCPU *yaml.Node // bounds.cpu value, nil when absent (set even when invalid)
	boundsMem *yaml.Node // bounds.memory value, nil when absent (set even when invalid)
}

// stageSource locates one stage's fields.
type stageSource struct {
	at       *yaml.Node // the list item
	path     string
	name     *yaml.Node
	function *yaml.Node
	needs    []*yaml.Node // parallel to Stage.Needs
}

// workflow decodes the document root into a Workflow.
func (p *parser) workflow(root *yaml.Node) (*Workflow, *source) {
	w := &Workflow{Spec: Spec{Functions: map[string]*Function{}}}
	src := &source{functions: map[string]*funcSource{}}
	if root.Kind != yaml.MappingNode {
		p.add(root, "", "a workflow document must be a mapping with apiVersion, kind, metadata and spec; got %s", kindName(root))
		return w, src
	}
	m := p.mapping(nil, root, "", documentFields...)
	if m == nil {
		return w, src
	}
	src.root = m
	if n := m.required(p, "apiVersion", fmt.Sprintf(" (want %q)", APIVersion)); n != nil {
		w.APIVersion, _ = p.scalar(n, "apiVersion", "a string")
		src.apiVersion = n
	}
	if n := m.required(p, "kind", fmt.Sprintf(" (want %q)", KindWorkflow)); n != nil {
		w.Kind, _ = p.scalar(n, "kind", "a string")
		src.kind = n
	}
	if n := m.required(p, "metadata", ""); n != nil {
		p.metadata(m.keys["metadata"], n, &w.Metadata)
	}
	if n := m.required(p, "spec", ""); n != nil {
		p.spec(m.keys["spec"], n, &w.Spec, src)
	}
	return w, src
}

// metadata decodes metadata: {name}.
func (p *parser) metadata(at, n *yaml.Node, md *Metadata) {
	m := p.mapping(at, n, "metadata", metadataFields...)
	if m == nil {
		return
	}
	v := m.required(p, "name", "")
	if v == nil {
		return
	}
	if s, ok := p.scalar(v, "metadata.name", "a string"); ok {
		md.Name = s
		if why := dnsLabel(s); why != "" {
			p.add(v, "metadata.name", "invalid name %q: %s", s, why)
		}
	}
}

// spec decodes spec: {qos, functions, stages}.
func (p *parser) spec(at, n *yaml.Node, s *Spec, src *source) {
	m := p.mapping(at, n, "spec", specFields...)
	if m == nil {
		src.stagesAt = at
		return
	}
	if v := m.get("qos"); v != nil {
		p.qos(m.keys["qos"], v, &s.QoS)
	}
	if v := m.get("timeout"); v != nil {
		if d, ok := p.duration(v, "spec.timeout"); ok {
			if d <= 0 {
				p.add(v, "spec.timeout", "must be > 0, got %s", v.Value)
			} else {
				s.Timeout = d
			}
		}
	}
	if v := m.get("network"); v != nil {
		p.network(m.keys["network"], v, &s.Network)
	}
	if v := m.get("queue"); v != nil {
		p.queue(m.keys["queue"], v, &s.Queue)
	}
	if v := m.get("functions"); v != nil {
		p.functions(m.keys["functions"], v, s, src)
	}
	src.stagesAt = m.at
	if k := m.keys["stages"]; k != nil {
		src.stagesAt = k
	}
	v := m.get("stages")
	if v == nil {
		p.add(src.stagesAt, "spec.stages", "at least one stage is required")
		return
	}
	p.stages(v, s, src)
}

// network decodes network: {egress: none|internet}.
func (p *parser) network(at, n *yaml.Node, nw *Network) {
	m := p.mapping(at, n, "spec.network", networkFields...)
	if m == nil {
		return
	}
	v := m.get("egress")
	if v == nil {
		return
	}
	const field = "spec.network.egress"
	s, ok := p.scalar(v, field, `"none" or "internet"`)
	if !ok {
		return
	}
	switch e := Egress(s); e {
	case EgressNone, EgressInternet:
		nw.Egress, nw.EgressAt = e, Position{Line: v.Line, Col: v.Column}
	default:
		p.add(v, field, `must be "none" or "internet", got %q%s`, s, didYouMean(s, []string{string(EgressNone), string(EgressInternet)}))
	}
}

// queue decodes queue: {maxWaiting, maxWait}; either may be left out.
func (p *parser) queue(at, n *yaml.Node, q *Queue) {
	m := p.mapping(at, n, "spec.queue", queueFields...)
	if m == nil {
		return
	}
	if v := m.get("maxWaiting"); v != nil {
		if k, ok := p.integer(v, "spec.queue.maxWaiting", 1, MaxQueueWaiting); ok {
			q.MaxWaiting = k
		}
	}
	if v := m.get("maxWait"); v != nil {
		if d, ok := p.duration(v, "spec.queue.maxWait"); ok {
			if d <= 0 {
				p.add(v, "spec.queue.maxWait", "must be > 0, got %s", v.Value)
			} else {
				q.MaxWait = d
			}
		}
	}
}

// qos decodes qos: {latency, percentile}; both are required when present.
func (p *parser) qos(at, n *yaml.Node, q *QoS) {
	m := p.mapping(at, n, "spec.qos", qosFields...)
	if m == nil {
		return
	}
	if v := m.required(p, "latency", ` (e.g. "1500ms")`); v != nil {
		if d, ok := p.duration(v, "spec.qos.latency"); ok {
			q.Latency = d
			if d <= 0 {
				p.add(v, "spec.qos.latency", "must be > 0, got %s", v.Value)
			}
		}
	}
	if v := m.required(p, "percentile", " (e.g. 95)"); v != nil {
		if s, ok := p.scalar(v, "spec.qos.percentile", "a number"); ok {
			f, err := strconv.ParseFloat(s, 64)
			switch {
			case err != nil:
				p.add(v, "spec.qos.percentile", "must be a number, got %q", s)
			case !(f > 0 && f < 100):
				p.add(v, "spec.qos.percentile", "must be between 0 and 100 (exclusive), got %s", s)
			default:
				q.Percentile = f
			}
		}
	}
}

// duration parses a Go duration with a unit, e.g. "1500ms" or "2s".
func (p *parser) duration(n *yaml.Node, field string) (time.Duration, bool) {
	s, ok := p.scalar(n, field, `a duration like "1500ms" or "2s"`)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.add(n, field, `invalid duration %q: want a number with a unit, like "1500ms" or "2s"`, s)
		return 0, false
	}
	return d, true
}

// functions decodes the spec.functions mapping of name to function.
func (p *parser) functions(at, n *yaml.Node, s *Spec, src *source) {
	m := p.mapping(at, n, "spec.functions")
	if m == nil {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if m.keys[k.Value] != k {
			continue // non-scalar or duplicate key, already reported
		}
		path := joinPath("spec.functions", k.Value)
		if why := dnsLabel(k.Value); why != "" {
			p.add(k, "spec.functions", "invalid function name %q: %s", k.Value, why)
		}
		f := &Function{Name: k.Value}
		fs := &funcSource{at: k, path: path}
		s.Functions[k.Value] = f
		src.functions[k.Value] = fs
		p.function(k, n.Content[i+1], f, fs)
	}
}

// function decodes one function: {image, resources, bounds, env, idempotent}.
func (p *parser) function(at, n *yaml.Node, f *Function, fs *funcSource) {
	m := p.mapping(at, n, fs.path, functionFields...)
	if m == nil {
		return
	}
	if v := m.required(p, "image", ` (e.g. "baton.local/fn-detect:v1")`); v != nil {
		if s, ok := p.scalar(v, joinPath(fs.path, "image"), "an image reference"); ok {
			f.Image = s
			f.ImageAt = Position{Line: v.Line, Col: v.Column}
			if strings.TrimSpace(s) != s || strings.ContainsAny(s, " \t\n") {
				p.add(v, joinPath(fs.path, "image"), "invalid image reference %q: must not contain spaces", s)
			} else if _, err := reference.ParseDockerRef(s); err != nil {
				p.add(v, joinPath(fs.path, "image"), "invalid image reference %q: %v (want host[:port]/path[:tag][@sha256:digest], e.g. registry.example.com/acme/resize:1.4)", s, err)
			}
		}
	}
	if v := m.required(p, "resources", ` (e.g. {cpu: 250m, memory: 128Mi} or {cpu: auto, memory: auto})`); v != nil {
		f.ResourcesAt = Position{Line: v.Line, Col: v.Column}
		p.resources(m.keys["resources"], v, &f.Resources, fs)
	}
	if v := m.get("bounds"); v != nil {
		f.Bounds = &Bounds{}
		fs.boundsAt = m.keys["bounds"]
		p.bounds(fs.boundsAt, v, f.Bounds, fs)
	}
	if v := m.get("env"); v != nil {
		f.Env = p.env(m.keys["env"], v, joinPath(fs.path, "env"))
	}
	if v := m.get("idempotent"); v != nil {
		f.Idempotent, _ = p.boolean(v, joinPath(fs.path, "idempotent"))
	}
	if v := m.get("security"); v != nil {
		p.security(m.keys["security"], v, &f.Security, joinPath(fs.path, "security"))
	}
}

// boolean decodes true or false.
func (p *parser) boolean(n *yaml.Node, field string) (bool, bool) {
	s, ok := p.scalar(n, field, "true or false")
	if !ok {
		return false, false
	}
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.add(n, field, "%q is not a boolean: want true or false", s)
	return false, false
}

// security decodes security: {capabilities, runAsRoot}, refusing
// privileged: true and host paths, which Baton never offers. Whether the
// cluster allows what is asked is the orchestrator's to say, at deploy.
func (p *parser) security(at, n *yaml.Node, sec *Security, path string) {
	m := p.mapping(at, n, path, securityFields...)
	if m == nil {
		return
	}
	if v := m.get("capabilities"); v != nil {
		field := joinPath(path, "capabilities")
		if items, ok := p.sequence(v, field); ok {
			seen := map[string]int{}
			for i, it := range items {
				f := indexPath(field, i)
				name, ok := p.scalar(it, f, "a capability name like NET_BIND_SERVICE")
				if !ok {
					continue
				}
				if err := CheckCapability(name); err != nil {
					p.add(it, f, "%v", err)
					continue
				}
				if j, dup := seen[name]; dup {
					p.add(it, f, "duplicate capability %q (first at %s)", name, indexPath(field, j))
					continue
				}
				seen[name] = i
				sec.Capabilities = append(sec.Capabilities, name)
				sec.CapabilitiesAt = append(sec.CapabilitiesAt, Position{Line: it.Line, Col: it.Column})
			}
		}
	}
	if v := m.get("runAsRoot"); v != nil {
		if root, ok := p.boolean(v, joinPath(path, "runAsRoot")); ok && root {
			sec.RunAsRoot, sec.RunAsRootAt = true, Position{Line: v.Line, Col: v.Column}
		}
	}
	if v := m.get("privileged"); v != nil {
		if priv, ok := p.boolean(v, joinPath(path, "privileged")); ok && priv {
			p.add(v, joinPath(path, "privileged"), "Baton runs no privileged sandboxes: ask for the capabilities the function needs instead (capabilities: [NET_BIND_SERVICE]), which the operator must allow")
		}
	}
	if v := m.get("hostPaths"); v != nil {
		if field := joinPath(path, "hostPaths"); v.Kind != yaml.SequenceNode || len(v.Content) > 0 {
			p.add(v, field, "Baton mounts no host paths into sandboxes: a function gets its image, a writable /tmp and its input; fetch what else it needs over the network (spec.network.egress: internet)")
		}
	}
}

// resources decodes resources: {cpu, memory}; both are required.
func (p *parser) resources(at, n *yaml.Node, r *Resources, fs *funcSource) {
	path := joinPath(fs.path, "resources")
	m := p.mapping(at, n, path, resourcesFields...)
	if m == nil {
		return
	}
	if v := m.required(p, "cpu", ` (e.g. "250m", "1" or "auto")`); v != nil {
		field := joinPath(path, "cpu")
		if s, ok := p.scalar(v, field, "a CPU quantity"); ok {
			if c, err := ParseCPU(s); err != nil {
				p.add(v, field, "%v", err)
			} else {
				r.CPU, fs.cpu = c, v
			}
		}
	}
	if v := m.required(p, "memory", ` (e.g. "512Mi" or "auto")`); v != nil {
		field := joinPath(path, "memory")
		if s, ok := p.scalar(v, field, "a memory quantity"); ok {
			if mem, err := ParseMemory(s); err != nil {
				p.add(v, field, "%v", err)
			} else {
				r.Memory, fs.mem = mem, v
			}
		}
	}
}

// bounds decodes bounds: {cpu: [low, high], memory: [low, high]}.
func (p *parser) bounds(at, n *yaml.Node, b *Bounds, fs *funcSource) {
	path := joinPath(fs.path, "bounds")
	m := p.mapping(at, n, path, boundsFields...)
	if m == nil {
		return
	}
	if v := m.get("cpu"); v != nil {
		field := joinPath(path, "cpu")
		fs.boundsCPU = v
		if lo, hi, ok := p.pair(v, field, func(s string) (int64, error) {
			c, err := ParseCPU(s)
			if err == nil && c.Auto {
				err = fmt.Errorf("a bound must be a fixed quantity, not auto")
			}
			return c.Milli, err
		}); ok {
			b.CPUMilli = [2]int64{lo, hi}
		}
	}
	if v := m.get("memory"); v != nil {
		field := joinPath(path, "memory")
		fs.boundsMem = v
		if lo, hi, ok := p.pair(v, field, func(s string) (int64, error) {
			mem, err := ParseMemory(s)
			if err == nil && mem.Auto {
				err = fmt.Errorf("a bound must be a fixed quantity, not auto")
			}
			return mem.Bytes, err
		}); ok {
			b.MemoryBytes = [2]int64{lo, hi}
		}
	}
}

// pair decodes a [low, high] list of two quantities.
func (p *parser) pair(n *yaml.Node, field string, parse func(string) (int64, error)) (lo, hi int64, ok bool) {
	items, ok := p.sequence(n, field)
	if !ok {
		return 0, 0, false
	}
	if len(items) != 2 {
		p.add(n, field, "must be [low, high], got %d items", len(items))
		return 0, 0, false
	}
	var vals [2]int64
	ok = true
	for i, it := range items {
		f := indexPath(field, i)
		s, sok := p.scalar(it, f, "a quantity")
		if !sok {
			ok = false
			continue
		}
		v, err := parse(s)
		if err != nil {
			p.add(it, f, "%v", err)
			ok = false
			continue
		}
		vals[i] = v
	}
	return vals[0], vals[1], ok
}

// env decodes an environment mapping of variable name to string value.
func (p *parser) env(at, n *yaml.Node, path string) map[string]string {
	m := p.mapping(at, n, path)
	if m == nil {
		return nil
	}
	env := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if m.keys[k.Value] != k {
			continue
		}
		field := joinPath(path, k.Value)
		switch {
		case !isEnvName(k.Value):
			p.add(k, path, "invalid variable name %q: want letters, digits and '_', not starting with a digit", k.Value)
		case k.Value == "PORT":
			p.add(k, path, `variable "PORT" is reserved: the sandbox sets it`)
		}
		if s, ok := p.scalar(v, field, "a string"); ok {
			env[k.Value] = s
		}
	}
	return env
}

// stages decodes the spec.stages list.
func (p *parser) stages(n *yaml.Node, s *Spec, src *source) {
	items, ok := p.sequence(n, "spec.stages")
	if !ok {
		return
	}
	if len(items) == 0 {
		p.add(n, "spec.stages", "at least one stage is required")
		return
	}
	if len(items) > p.limits.MaxStages {
		p.add(n, "spec.stages", "%d stages; the limit is %d", len(items), p.limits.MaxStages)
		return
	}
	for i, it := range items {
		path := indexPath("spec.stages", i)
		m := p.mapping(it, it, path, stageFields...)
		if m == nil {
			continue
		}
		st := &Stage{}
		ss := &stageSource{at: it, path: path}
		s.Stages = append(s.Stages, st)
		src.stages = append(src.stages, ss)
		p.stage(m, st, ss)
	}
}

// stage decodes one stage's fields.
func (p *parser) stage(m *mapping, st *Stage, ss *stageSource) {
	path := ss.path
	if v := m.required(p, "name", ""); v != nil {
		if s, ok := p.scalar(v, joinPath(path, "name"), "a string"); ok {
			if why := dnsLabel(s); why != "" {
				p.add(v, joinPath(path, "name"), "invalid stage name %q: %s", s, why)
			} else {
				st.Name, ss.name = s, v
			}
		}
	}
	if v := m.required(p, "function", ""); v != nil {
		if s, ok := p.scalar(v, joinPath(path, "function"), "a function name"); ok {
			st.Function, ss.function = s, v
		}
	}
	if v := m.get("needs"); v != nil {
		field := joinPath(path, "needs")
		if items, ok := p.sequence(v, field); ok {
			for j, it := range items {
				if s, ok := p.scalar(it, indexPath(field, j), "a stage name"); ok {
					st.Needs = append(st.Needs, s)
					ss.needs = append(ss.needs, it)
				}
			}
		}
	}
	if v := m.get("foreach"); v != nil {
		field := joinPath(path, "foreach")
		if s, ok := p.scalar(v, field, `a dotted path like "frames" or "data.items"`); ok {
			if why := checkPath(s); why != "" {
				p.add(v, field, "invalid path %q: %s", s, why)
			} else {
				st.Foreach = s
			}
		}
	}
	if v := m.get("maxParallel"); v != nil {
		field := joinPath(path, "maxParallel")
		if n, ok := p.integer(v, field, 1, p.limits.MaxFanOut); ok {
			st.MaxParallel = n
			if m.get("foreach") == nil {
				p.add(m.keys["maxParallel"], field, "only applies to a foreach stage; add foreach: PATH or remove it")
			}
		}
	}
	if v := m.get("when"); v != nil {
		field := joinPath(path, "when")
		if s, ok := p.scalar(v, field, `a CEL expression like "input.score > 0.5"`); ok {
			if len(s) > p.limits.MaxExpressionBytes {
				p.add(v, field, "expression is %d bytes; the limit is %d", len(s), p.limits.MaxExpressionBytes)
			} else if c, err := compileCondition(s); err != nil {
				p.add(v, field, "%v", err)
			} else {
				st.When, st.condition = s, c
			}
		}
	}
	if v := m.get("onError"); v != nil {
		field := joinPath(path, "onError")
		if s, ok := p.scalar(v, field, `"fail" or "continue"`); ok {
			switch OnError(s) {
			case OnErrorFail, OnErrorContinue:
				st.OnError = OnError(s)
			default:
				p.add(v, field, `must be "fail" or "continue", got %q%s`, s, didYouMean(s, []string{string(OnErrorFail), string(OnErrorContinue)}))
			}
		}
	}
	if v := m.get("timeout"); v != nil {
		field := joinPath(path, "timeout")
		if d, ok := p.duration(v, field); ok {
			if d <= 0 {
				p.add(v, field, "must be > 0, got %s", v.Value)
			} else {
				st.Timeout = d
			}
		}
	}
	if v := m.get("retries"); v != nil {
		if r, ok := p.integer(v, joinPath(path, "retries"), 0, MaxRetries); ok {
			st.Retries = r
		}
	}
}

// integer decodes an integer in [lo, hi].
func (p *parser) integer(n *yaml.Node, field string, lo, hi int) (int, bool) {
	s, ok := p.scalar(n, field, "an integer")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	switch {
	case err != nil:
		p.add(n, field, "must be an integer, got %q", s)
	case v < lo:
		p.add(n, field, "must be >= %d, got %d", lo, v)
	case v > hi:
		p.add(n, field, "must be <= %d, got %d", hi, v)
	default:
		return v, true
	}
	return 0, false
}

package workflow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxProblems bounds how many problems one document reports; a hostile
// document cannot make the report grow without limit.
const maxProblems = 200

// parser collects problems while turning YAML nodes into workflow values.
type parser struct {
	file    string
	limits  Limits
	probs   Problems
	dropped int // problems not recorded because the report is full
}

// add records a problem at node n (position unknown when n is nil).
func (p *parser) add(n *yaml.Node, field, format string, args ...any) {
	if p.full() {
		p.dropped++
		return
	}
	pr := Problem{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Col = n.Line, n.Column
	}
	p.probs = append(p.probs, pr)
}

// full reports whether no more problems will be recorded.
func (p *parser) full() bool { return len(p.probs) >= maxProblems }

// result sorts the problems and returns them as an error, or nil if none.
func (p *parser) result() error {
	if len(p.probs) == 0 {
		return nil
	}
	sortProblems(p.probs)
	if p.dropped > 0 {
		p.probs = append(p.probs, Problem{File: p.file,
			Msg: fmt.Sprintf("too many problems: only the first %d are shown", maxProblems)})
	}
	ps := p.probs
	return &ps
}

// yamlErrLine matches yaml.v3's "yaml: line N: msg" errors.
func yamlErrLine() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) }

// addYAMLError records a yaml syntax error with the line yaml reports.
func (p *parser) addYAMLError(err error) {
	msg := err.Error()
	if m := yamlErrLine().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.probs = append(p.probs, Problem{File: p.file, Line: line, Msg: "invalid YAML: " + m[2]})
		return
	}
	p.probs = append(p.probs, Problem{File: p.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
}

// joinPath appends a key to a dotted field path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a list index to a field path.
func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// isNull reports whether n is absent or an explicit YAML null.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// kindName describes a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	case n.Kind == yaml.DocumentNode:
		return "a document"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// mapping is a YAML mapping with its keys checked against the known fields.
type mapping struct {
	at   *yaml.Node // where to report a missing field: the key naming this mapping, or the mapping itself
	path string
	keys map[string]*yaml.Node
	vals map[string]*yaml.Node
}

// mapping checks that n is a mapping whose keys are known, unique scalars.
// at is where problems about the mapping as a whole are reported. It returns
// nil (after recording a problem) when n is not a mapping.
func (p *parser) mapping(at, n *yaml.Node, path string, known ...string) *mapping {
	if n == nil || n.Kind != yaml.MappingNode {
		p.add(n, path, "must be a mapping, got %s", kindName(n))
		return nil
	}
	if at == nil {
		at = n
	}
	m := &mapping{at: at, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, path, "keys must be strings, got %s", kindName(k))
			continue
		}
		if prev, dup := m.keys[k.Value]; dup {
			p.add(k, joinPath(path, k.Value), "duplicate key (first at line %d)", prev.Line)
			continue
		}
		if known != nil && !contains(known, k.Value) {
			p.add(k, path, "unknown field %q%s", k.Value, didYouMean(k.Value, known))
			continue
		}
		m.keys[k.Value], m.vals[k.Value] = k, v
	}
	return m
}

// get returns the value of an optional field, or nil when absent or null.
func (m *mapping) get(name string) *yaml.Node {
	v := m.vals[name]
	if isNull(v) {
		return nil
	}
	return v
}

// required returns the value of a required field, recording a problem at
// the mapping when it is absent or null.
func (m *mapping) required(p *parser, name, hint string) *yaml.Node {
	v := m.get(name)
	if v == nil {
		at := m.at
		if k := m.keys[name]; k != nil {
			at = k
		}
		p.add(at, joinPath(m.path, name), "required%s", hint)
	}
	return v
}

// scalar returns a scalar's text, recording a problem when n is not a
// non-null scalar.
func (p *parser) scalar(n *yaml.Node, field, what string) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		p.add(n, field, "must be %s, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// sequence returns a list's items, recording a problem when n is not a list.
func (p *parser) sequence(n *yaml.Node, field string) ([]*yaml.Node, bool) {
	if n == nil || n.Kind != yaml.SequenceNode {
		p.add(n, field, "must be a list, got %s", kindName(n))
		return nil, false
	}
	return n.Content, true
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

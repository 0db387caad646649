package profile

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"

	"baton.dev/baton/workflow"
)

// maxNameLen is the longest workflow name (a DNS label).
const maxNameLen = 63

// GridName derives the name a grid point's copy of workflow name is
// deployed under, e.g. "ml-pipeline-prof-250m-128mi", kept a DNS label.
func GridName(name string, cpuMilli, memMiB int64) string {
	suffix := fmt.Sprintf("-prof-%dm-%dmi", cpuMilli, memMiB)
	if len(name)+len(suffix) > maxNameLen {
		name = name[:maxNameLen-len(suffix)]
		for len(name) > 0 && name[len(name)-1] == '-' {
			name = name[:len(name)-1]
		}
	}
	return name + suffix
}

// WithFixedResources rewrites a workflow document so that it is named name
// and every function runs with fixed resources {cpu: cpuMilli, memory:
// memMiB}; everything else (comments included) is kept. The result is
// parsed again to make sure it is a valid workflow.
func WithFixedResources(filename string, source []byte, name string, cpuMilli, memMiB int64) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(source, &doc); err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", filename, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("rewrite %s: not a workflow document", filename)
	}
	root := doc.Content[0]
	md := mappingValue(root, "metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("rewrite %s: no metadata mapping", filename)
	}
	setScalar(md, "name", name)
	spec := mappingValue(root, "spec")
	var fns *yaml.Node
	if spec != nil {
		fns = mappingValue(spec, "functions")
	}
	if fns == nil || fns.Kind != yaml.MappingNode || len(fns.Content) == 0 {
		return nil, fmt.Errorf("rewrite %s: no spec.functions mapping", filename)
	}
	cpu := workflow.CPU{Milli: cpuMilli}.String()
	mem := workflow.Memory{Bytes: memMiB << 20}.String()
	for i := 1; i < len(fns.Content); i += 2 {
		fn := fns.Content[i]
		if fn.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("rewrite %s: function %q is not a mapping", filename, fns.Content[i-1].Value)
		}
		res := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		setScalar(res, "cpu", cpu)
		setScalar(res, "memory", mem)
		setNode(fn, "resources", res)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", filename, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", filename, err)
	}
	out := buf.Bytes()
	if _, err := workflow.Parse(filename, out); err != nil {
		return nil, fmt.Errorf("rewrite %s: result does not parse: %w", filename, err)
	}
	return out, nil
}

// mappingValue returns the value of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setNode sets key to v in mapping m, appending the key when missing.
func setNode(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// setScalar sets key to the string value in mapping m.
func setScalar(m *yaml.Node, key, value string) {
	setNode(m, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}

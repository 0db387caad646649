package workflow

import (
	"sort"
	"strings"
)

// maxDNSLabel is the longest DNS label.
const maxDNSLabel = 63

// validate checks what needs more than one field: the document header,
// resources against bounds, and the stage graph.
func (p *parser) validate(w *Workflow, src *source) {
	if src.apiVersion != nil && w.APIVersion != "" && w.APIVersion != APIVersion {
		p.add(src.apiVersion, "apiVersion", "unsupported apiVersion %q (want %q)", w.APIVersion, APIVersion)
	}
	if src.kind != nil && w.Kind != "" && w.Kind != KindWorkflow {
		p.add(src.kind, "kind", "unsupported kind %q (want %q)", w.Kind, KindWorkflow)
	}
	for name, f := range w.Spec.Functions {
		p.checkFunction(f, src.functions[name])
	}
	p.checkStages(w, src)
}

// checkFunction checks that auto resources have bounds and that bounds are
// not inverted. Fixed resources outside the bounds are allowed.
func (p *parser) checkFunction(f *Function, fs *funcSource) {
	if fs == nil {
		return
	}
	if fs.cpu != nil && f.Resources.CPU.Auto && fs.boundsCPU == nil {
		p.add(fs.cpu, joinPath(fs.path, "resources.cpu"), "auto needs bounds.cpu, e.g. bounds: {cpu: [250m, 2000m]}")
	}
	if fs.mem != nil && f.Resources.Memory.Auto && fs.boundsMem == nil {
		p.add(fs.mem, joinPath(fs.path, "resources.memory"), "auto needs bounds.memory, e.g. bounds: {memory: [128Mi, 1Gi]}")
	}
	if f.Bounds == nil {
		return
	}
	if c := f.Bounds.CPUMilli; fs.boundsCPU != nil && c[0] > c[1] {
		p.add(fs.boundsCPU, joinPath(fs.path, "bounds.cpu"), "inverted bounds: low %s is above high %s",
			formatMilli(c[0]), formatMilli(c[1]))
	}
	if m := f.Bounds.MemoryBytes; fs.boundsMem != nil && m[0] > m[1] {
		p.add(fs.boundsMem, joinPath(fs.path, "bounds.memory"), "inverted bounds: low %s is above high %s",
			formatBytes(m[0]), formatBytes(m[1]))
	}
}

// checkStages checks stage names, function and needs references, and cycles.
func (p *parser) checkStages(w *Workflow, src *source) {
	first := map[string]int{} // stage name -> index of its first declaration
	var names []string
	for i, st := range w.Spec.Stages {
		if st.Name == "" {
			continue
		}
		if j, dup := first[st.Name]; dup {
			ss := src.stages[i]
			p.add(ss.name, joinPath(ss.path, "name"), "duplicate stage name %q (first declared at line %d)",
				st.Name, src.stages[j].name.Line)
			continue
		}
		first[st.Name] = i
		names = append(names, st.Name)
	}
	funcs := make([]string, 0, len(w.Spec.Functions))
	for name := range w.Spec.Functions {
		funcs = append(funcs, name)
	}
	sort.Strings(funcs)
	for i, st := range w.Spec.Stages {
		ss := src.stages[i]
		if st.Function != "" && w.Spec.Functions[st.Function] == nil {
			if len(funcs) == 0 {
				p.add(ss.function, joinPath(ss.path, "function"), "unknown function %q: spec.functions declares none", st.Function)
			} else {
				p.add(ss.function, joinPath(ss.path, "function"), "unknown function %q%s", st.Function, didYouMean(st.Function, funcs))
			}
		}
		seen := map[string]bool{}
		for j, need := range st.Needs {
			if p.full() {
				break
			}
			field := indexPath(joinPath(ss.path, "needs"), j)
			_, known := first[need]
			switch {
			case need == st.Name:
				p.add(ss.needs[j], field, "self-dependency: stage %q needs itself", need)
			case !known:
				p.add(ss.needs[j], field, "unknown stage %q%s", need, didYouMean(need, without(names, st.Name)))
			case seen[need]:
				p.add(ss.needs[j], field, "duplicate need %q", need)
			}
			seen[need] = true
		}
	}
	for _, cyc := range cycles(w.Spec.Stages) {
		head, last := w.Spec.Stages[cyc[0]], w.Spec.Stages[cyc[len(cyc)-2]]
		ss := src.stages[cyc[0]]
		j := indexOf(head.Needs, last.Name)
		parts := make([]string, len(cyc))
		for k, idx := range cyc {
			parts[k] = w.Spec.Stages[idx].Name
		}
		p.add(ss.needs[j], indexPath(joinPath(ss.path, "needs"), j), "cycle: %s", strings.Join(parts, " -> "))
	}
}

// without returns list minus s.
func without(list []string, s string) []string {
	out := make([]string, 0, len(list))
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// indexOf returns the index of s in list, or -1.
func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// dnsLabel returns why s is not a DNS label, or "" when it is one.
func dnsLabel(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > maxDNSLabel:
		return "must be at most 63 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "must contain only lowercase letters, digits and '-'"
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return "must start and end with a lowercase letter or digit"
	}
	return ""
}

// wholeInput is the foreach path naming the stage input itself.
const wholeInput = "."

// checkPath returns why s is not a dotted path (or "."), or "" when it is one.
func checkPath(s string) string {
	if s == wholeInput {
		return ""
	}
	for _, seg := range strings.Split(s, ".") {
		if seg == "" {
			return `empty segment; want a dotted path like "frames" or "data.items", or "." for the whole input`
		}
	}
	return ""
}

// isEnvName reports whether s is a portable environment variable name.
func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

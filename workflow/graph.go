package workflow

import (
	"fmt"
	"slices"
	"strings"
)

// Stage returns the stage named name, or nil.
func (w *Workflow) Stage(name string) *Stage {
	if w == nil {
		return nil
	}
	for _, st := range w.Spec.Stages {
		if st != nil && st.Name == name {
			return st
		}
	}
	return nil
}

// Sinks returns the stages no other stage needs, in declared order. The
// workflow's output is made of their outputs.
func (w *Workflow) Sinks() []*Stage {
	if w == nil {
		return nil
	}
	needed := map[string]bool{}
	for _, st := range w.Spec.Stages {
		if st == nil {
			continue
		}
		for _, n := range st.Needs {
			needed[n] = true
		}
	}
	var sinks []*Stage
	for _, st := range w.Spec.Stages {
		if st != nil && !needed[st.Name] {
			sinks = append(sinks, st)
		}
	}
	return sinks
}

// Dependents returns the stages that need the stage named name, in declared order.
func (w *Workflow) Dependents(name string) []*Stage {
	if w == nil {
		return nil
	}
	var deps []*Stage
	for _, st := range w.Spec.Stages {
		if st != nil && contains(st.Needs, name) {
			deps = append(deps, st)
		}
	}
	return deps
}

// cycles finds one cycle in every group of stages that depend on each other
// (each strongly connected component of more than one stage). A cycle is a
// list of stage indexes in data-flow order (each stage feeds the next), from
// the component's earliest-declared stage back to itself, e.g. a -> b -> a.
// Self-dependencies and unknown needs are ignored; names resolve to their
// first declaration.
func cycles(stages []*Stage) [][]int {
	index := map[string]int{}
	for i, st := range stages {
		if _, dup := index[st.Name]; !dup {
			index[st.Name] = i
		}
	}
	// feeds[x] lists the stages that need x, in declared order.
	feeds := make([][]int, len(stages))
	for j, st := range stages {
		for _, n := range st.Needs {
			if i, ok := index[n]; ok && i != j {
				feeds[i] = append(feeds[i], j)
			}
		}
	}
	var out [][]int
	for _, comp := range components(feeds) {
		if len(comp) > 1 {
			out = append(out, cycleThrough(comp, feeds))
		}
	}
	return out
}

// components returns the strongly connected components of the graph given
// by adjacency lists (Tarjan's algorithm), each sorted ascending, ordered by
// their smallest member.
func components(adj [][]int) [][]int {
	n := len(adj)
	idx := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range idx {
		idx[i] = -1
	}
	var stack []int
	var comps [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		idx[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		for _, u := range adj[v] {
			if idx[u] < 0 {
				visit(u)
				low[v] = min(low[v], low[u])
			} else if on[u] {
				low[v] = min(low[v], idx[u])
			}
		}
		if low[v] == idx[v] {
			var comp []int
			for {
				u := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[u] = false
				comp = append(comp, u)
				if u == v {
					break
				}
			}
			comps = append(comps, comp)
		}
	}
	for v := 0; v < n; v++ {
		if idx[v] < 0 {
			visit(v)
		}
	}
	for _, c := range comps {
		slices.Sort(c)
	}
	slices.SortFunc(comps, func(a, b []int) int { return a[0] - b[0] })
	return comps
}

// cycleThrough returns a shortest cycle through the smallest member of a
// strongly connected component, as indexes ending where they start.
func cycleThrough(comp []int, adj [][]int) []int {
	in := map[int]bool{}
	for _, v := range comp {
		in[v] = true
	}
	start := comp[0]
	parent := map[int]int{start: -1}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, u := range adj[v] {
			if u == start {
				var path []int
				for x := v; x != -1; x = parent[x] {
					path = append(path, x)
				}
				slices.Reverse(path)
				return append(path, start)
			}
			if in[u] {
				if _, seen := parent[u]; !seen {
					parent[u] = v
					queue = append(queue, u)
				}
			}
		}
	}
	return []int{start, start} // unreachable for a real component
}

// checkRunnable checks a workflow the engine is about to run, which may have
// been built by hand rather than by Parse: stages are non-nil with unique
// names, every need and function exists, and the graph has no cycle.
func checkRunnable(w *Workflow) error {
	if w == nil {
		return fmt.Errorf("nil workflow")
	}
	if len(w.Spec.Stages) == 0 {
		return fmt.Errorf("workflow %q has no stages", w.Metadata.Name)
	}
	names := map[string]bool{}
	for i, st := range w.Spec.Stages {
		if st == nil {
			return fmt.Errorf("stage %d is nil", i)
		}
		if names[st.Name] {
			return fmt.Errorf("duplicate stage name %q", st.Name)
		}
		names[st.Name] = true
	}
	for _, st := range w.Spec.Stages {
		if w.Spec.Functions[st.Function] == nil {
			return fmt.Errorf("stage %q: unknown function %q", st.Name, st.Function)
		}
		for _, n := range st.Needs {
			if !names[n] || n == st.Name {
				return fmt.Errorf("stage %q: invalid need %q", st.Name, n)
			}
		}
	}
	if cyc := cycles(w.Spec.Stages); len(cyc) > 0 {
		parts := make([]string, len(cyc[0]))
		for k, i := range cyc[0] {
			parts[k] = w.Spec.Stages[i].Name
		}
		return fmt.Errorf("cycle: %s", strings.Join(parts, " -> "))
	}
	return nil
}

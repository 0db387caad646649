package scheduler

import (
	"fmt"

	"baton.dev/baton/workflow"
)

// StageNode is one stage of a workflow's DAG: its name, the function it
// calls and the stages it needs.
type StageNode struct {
	Name     string
	Function string
	Needs    []string
}

// GraphOf returns w's stages in topological order (every stage after its
// needs, otherwise in the order written).
func GraphOf(w *workflow.Workflow) ([]StageNode, error) {
	nodes := make([]StageNode, 0, len(w.Spec.Stages))
	for _, st := range w.Spec.Stages {
		nodes = append(nodes, StageNode{Name: st.Name, Function: st.Function, Needs: st.Needs})
	}
	g, err := newGraph(nodes)
	if err != nil {
		return nil, fmt.Errorf("workflow %q: %w", w.Metadata.Name, err)
	}
	return g.nodes, nil
}

// graph is a DAG of stages in topological order, needs as indexes.
type graph struct {
	nodes []StageNode
	needs [][]int
}

// newGraph orders nodes topologically; an error names the stages in or
// after a cycle, an unknown need or a repeated name.
func newGraph(nodes []StageNode) (*graph, error) {
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n.Name] {
			return nil, fmt.Errorf("stage %q appears twice", n.Name)
		}
		seen[n.Name] = true
	}
	for _, n := range nodes {
		for _, need := range n.Needs {
			if !seen[need] {
				return nil, fmt.Errorf("stage %q needs %q, not a stage", n.Name, need)
			}
		}
	}
	g := &graph{}
	index := map[string]int{}
	for len(g.nodes) < len(nodes) {
		progress := false
		for _, n := range nodes {
			if _, done := index[n.Name]; done {
				continue
			}
			var needs []int
			for _, need := range n.Needs {
				i, ok := index[need]
				if !ok {
					break
				}
				needs = append(needs, i)
			}
			if len(needs) < len(n.Needs) {
				continue
			}
			index[n.Name] = len(g.nodes)
			g.nodes = append(g.nodes, n)
			g.needs = append(g.needs, needs)
			progress = true
		}
		if !progress {
			var left []string
			for _, n := range nodes {
				if _, done := index[n.Name]; !done {
					left = append(left, n.Name)
				}
			}
			return nil, fmt.Errorf("stages %q form a cycle or follow one", left)
		}
	}
	return g, nil
}

// endToEnd returns the latency of an invocation whose stages (in g's
// order) took stageMs: a stage starts when its last need finishes, and the
// invocation ends with its last stage. finish receives each stage's end.
func (g *graph) endToEnd(stageMs, finish []float64) float64 {
	var end float64
	for i, needs := range g.needs {
		var start float64
		for _, n := range needs {
			start = max(start, finish[n])
		}
		finish[i] = start + stageMs[i]
		end = max(end, finish[i])
	}
	return end
}

// critical adds to share[i] stage i's share of the end-to-end latency when
// it lies on the critical path (the chain of latest-finishing needs back
// from the last stage to finish), given the finish times endToEnd wrote.
func (g *graph) critical(stageMs, finish, share []float64) {
	last := 0
	for i := range finish {
		if finish[i] > finish[last] {
			last = i
		}
	}
	end := finish[last]
	if !(end > 0) {
		return
	}
	for i := last; i >= 0; {
		share[i] += stageMs[i] / end
		next := -1
		for _, n := range g.needs[i] {
			if next < 0 || finish[n] > finish[next] {
				next = n
			}
		}
		i = next
	}
}

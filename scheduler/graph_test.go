package scheduler

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// TestGraphEndToEndAndCriticalPath checks the composition of stage
// latencies through a DAG (sum along a chain, max over parallel branches)
// and the critical path's shares, on a diamond a → (b ∥ c) → d.
func TestGraphEndToEndAndCriticalPath(t *testing.T) {
	nodes := []StageNode{ // written out of order: d first
		{Name: "d", Function: "fd", Needs: []string{"b", "c"}},
		{Name: "a", Function: "fa"},
		{Name: "b", Function: "fb", Needs: []string{"a"}},
		{Name: "c", Function: "fc", Needs: []string{"a"}},
	}
	g, err := newGraph(nodes)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, n := range g.nodes {
		order = append(order, n.Name)
	}
	if !slices.Equal(order, []string{"a", "b", "c", "d"}) {
		t.Fatalf("order %v, want a b c d", order)
	}
	for _, tc := range []struct {
		name      string
		ms        []float64 // a, b, c, d
		want      float64
		wantShare []float64
	}{
		{"b slower", []float64{10, 50, 20, 40}, 100, []float64{0.1, 0.5, 0, 0.4}},
		{"c slower", []float64{10, 20, 50, 40}, 100, []float64{0.1, 0, 0.5, 0.4}},
		{"a chain alone", []float64{100, 0, 0, 0}, 100, []float64{1, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			finish := make([]float64, 4)
			if got := g.endToEnd(tc.ms, finish); got != tc.want {
				t.Errorf("end to end %g, want %g", got, tc.want)
			}
			share := make([]float64, 4)
			g.critical(tc.ms, finish, share)
			for i := range share {
				if math.Abs(share[i]-tc.wantShare[i]) > 1e-12 {
					t.Errorf("shares %v, want %v", share, tc.wantShare)
					break
				}
			}
		})
	}
	for _, bad := range []struct {
		nodes []StageNode
		want  string // in the error
	}{
		{[]StageNode{{Name: "x"}, {Name: "a", Needs: []string{"b"}}, {Name: "b", Needs: []string{"a"}}}, `["a" "b"] form a cycle`},
		{[]StageNode{{Name: "a", Needs: []string{"nowhere"}}}, `"a" needs "nowhere"`},
		{[]StageNode{{Name: "a"}, {Name: "a"}}, `"a" appears twice`},
	} {
		if _, err := newGraph(bad.nodes); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("graph %+v: error %v, want %s", bad.nodes, err, bad.want)
		}
	}
}

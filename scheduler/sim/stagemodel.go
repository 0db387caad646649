package sim

import (
	"fmt"
	"math"
	"slices"

	"baton.dev/baton/scheduler/profile"
)

// stageModel is one stage's latency distribution at any CPU and memory:
// the measured repetitions at each grid point, sorted, so that a draw is an
// empirical quantile, interpolated bilinearly (in log CPU and log memory)
// between the four surrounding grid points. Outside the grid it clamps to
// the nearest edge.
type stageModel struct {
	logCPU, logMem []float64
	sorted         [][]float64 // [ci*len(mem)+mi]
	means          []float64
}

// newStageModel indexes a validated profile stage.
func newStageModel(g profile.Grid, st *profile.Stage) (*stageModel, error) {
	m := &stageModel{}
	for _, c := range g.CPUMilli {
		m.logCPU = append(m.logCPU, math.Log(float64(c)))
	}
	for _, v := range g.MemoryMiB {
		m.logMem = append(m.logMem, math.Log(float64(v)))
	}
	m.sorted = make([][]float64, len(g.CPUMilli)*len(g.MemoryMiB))
	m.means = make([]float64, len(m.sorted))
	for _, pt := range st.Points {
		ci, mi := slices.Index(g.CPUMilli, pt.CPUMilli), slices.Index(g.MemoryMiB, pt.MemoryMiB)
		if ci < 0 || mi < 0 {
			return nil, fmt.Errorf("stage %q: point (%dm, %dMi) is off the grid", st.Name, pt.CPUMilli, pt.MemoryMiB)
		}
		s := slices.Clone(pt.LatencyMs)
		slices.Sort(s)
		k := ci*len(g.MemoryMiB) + mi
		m.sorted[k] = s
		var sum float64
		for _, v := range s {
			sum += v
		}
		m.means[k] = sum / float64(len(s))
	}
	for k, s := range m.sorted {
		if len(s) == 0 {
			return nil, fmt.Errorf("stage %q: grid point %d has no latencies", st.Name, k)
		}
	}
	return m, nil
}

// locate returns the cell index i and weight w of v on grid (log values):
// v ≈ (1−w)·grid[i] + w·grid[i+1], clamped to the grid.
func locate(grid []float64, v float64) (int, float64) {
	if len(grid) == 1 || v <= grid[0] {
		return 0, 0
	}
	last := len(grid) - 1
	if v >= grid[last] {
		return last - 1, 1
	}
	i := max(0, min(last-1, sort64(grid, v)))
	return i, (v - grid[i]) / (grid[i+1] - grid[i])
}

// sort64 returns the largest i with grid[i] ≤ v.
func sort64(grid []float64, v float64) int {
	i, _ := slices.BinarySearch(grid, v)
	if i < len(grid) && grid[i] == v {
		return i
	}
	return i - 1
}

// cell is a setting's place on the grid: the four surrounding grid points
// and their bilinear weights (in log CPU and log memory).
type cell struct {
	k00, k01, k10, k11 int
	wc, wm             float64
}

// cellOf locates (cpuMilli, memMiB) on the grid.
func (m *stageModel) cellOf(cpuMilli, memMiB float64) cell {
	nm := len(m.logMem)
	ci, wc := locate(m.logCPU, math.Log(cpuMilli))
	mi, wm := locate(m.logMem, math.Log(memMiB))
	ci1, mi1 := min(ci+1, len(m.logCPU)-1), min(mi+1, nm-1)
	return cell{k00: ci*nm + mi, k01: ci*nm + mi1, k10: ci1*nm + mi, k11: ci1*nm + mi1, wc: wc, wm: wm}
}

// blend interpolates value(k) over the cell.
func (c cell) blend(value func(k int) float64) float64 {
	v00, v01 := value(c.k00), value(c.k01)
	v10, v11 := value(c.k10), value(c.k11)
	return (1-c.wc)*((1-c.wm)*v00+c.wm*v01) + c.wc*((1-c.wm)*v10+c.wm*v11)
}

// sampleAt returns the u-quantile (u in [0, 1)) of the latency in cell c.
func (m *stageModel) sampleAt(c cell, u float64) float64 {
	return c.blend(func(k int) float64 {
		s := m.sorted[k]
		return s[min(int(u*float64(len(s))), len(s)-1)]
	})
}

// sample returns the u-quantile (u in [0, 1)) of the latency at the setting.
func (m *stageModel) sample(cpuMilli, memMiB, u float64) float64 {
	return m.sampleAt(m.cellOf(cpuMilli, memMiB), u)
}

// mean returns the mean latency at the setting.
func (m *stageModel) mean(cpuMilli, memMiB float64) float64 {
	return m.cellOf(cpuMilli, memMiB).blend(func(k int) float64 { return m.means[k] })
}

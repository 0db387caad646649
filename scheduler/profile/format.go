package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Version is the profile format version this package reads and writes.
const Version = 1

// Profile is a workflow's measured (or synthetic) per-stage latencies over
// a grid of resource limits. See the package documentation for the format.
type Profile struct {
	Version   int       `json:"version"`
	Workflow  string    `json:"workflow"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"createdAt"`
	Grid      Grid      `json:"grid"`
	Stages    []Stage   `json:"stages"`
}

// Grid is the set of resource limits measured: every CPU with every memory.
type Grid struct {
	CPUMilli  []int64 `json:"cpuMilli"`
	MemoryMiB []int64 `json:"memoryMiB"`
}

// Stage is one stage's measurements.
type Stage struct {
	Name     string `json:"name"`
	Function string `json:"function"`
	// Items is the number of calls per invocation (foreach fan-out), ≥ 1.
	Items  int     `json:"items"`
	Points []Point `json:"points"`
}

// Point is the latencies of one stage at one grid point.
type Point struct {
	CPUMilli  int64     `json:"cpuMilli"`
	MemoryMiB int64     `json:"memoryMiB"`
	LatencyMs []float64 `json:"latencyMs"`
}

// Stage returns the named stage, or nil.
func (p *Profile) Stage(name string) *Stage {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return &p.Stages[i]
		}
	}
	return nil
}

// Validate checks the version, the grid and that every stage has one point
// per grid pair with positive finite latencies.
func (p *Profile) Validate() error {
	if p.Version != Version {
		return fmt.Errorf("profile version %d: this Baton reads version %d", p.Version, Version)
	}
	if p.Workflow == "" {
		return errors.New("profile: workflow is empty")
	}
	if err := ascending("grid.cpuMilli", p.Grid.CPUMilli); err != nil {
		return err
	}
	if err := ascending("grid.memoryMiB", p.Grid.MemoryMiB); err != nil {
		return err
	}
	if len(p.Stages) == 0 {
		return errors.New("profile: no stages")
	}
	seen := map[string]bool{}
	for si, st := range p.Stages {
		at := fmt.Sprintf("stages[%d] (%s)", si, st.Name)
		if st.Name == "" || seen[st.Name] {
			return fmt.Errorf("profile: %s: empty or duplicate name", at)
		}
		seen[st.Name] = true
		if st.Items < 1 {
			return fmt.Errorf("profile: %s: items %d, want ≥ 1", at, st.Items)
		}
		if want := len(p.Grid.CPUMilli) * len(p.Grid.MemoryMiB); len(st.Points) != want {
			return fmt.Errorf("profile: %s: %d points, want %d (one per grid pair)", at, len(st.Points), want)
		}
		pairs := map[[2]int64]bool{}
		for pi, pt := range st.Points {
			pat := fmt.Sprintf("%s.points[%d]", at, pi)
			if !slices.Contains(p.Grid.CPUMilli, pt.CPUMilli) || !slices.Contains(p.Grid.MemoryMiB, pt.MemoryMiB) {
				return fmt.Errorf("profile: %s: (%dm, %dMi) is not on the grid", pat, pt.CPUMilli, pt.MemoryMiB)
			}
			key := [2]int64{pt.CPUMilli, pt.MemoryMiB}
			if pairs[key] {
				return fmt.Errorf("profile: %s: (%dm, %dMi) appears twice", pat, pt.CPUMilli, pt.MemoryMiB)
			}
			pairs[key] = true
			if len(pt.LatencyMs) == 0 {
				return fmt.Errorf("profile: %s: no latencies", pat)
			}
			for _, l := range pt.LatencyMs {
				if !(l > 0) || math.IsInf(l, 0) {
					return fmt.Errorf("profile: %s: latency %g ms is not positive and finite", pat, l)
				}
			}
		}
	}
	return nil
}

// ascending checks a non-empty, strictly ascending list of positive values.
func ascending(field string, vs []int64) error {
	if len(vs) == 0 {
		return fmt.Errorf("profile: %s is empty", field)
	}
	for i, v := range vs {
		if v <= 0 || (i > 0 && v <= vs[i-1]) {
			return fmt.Errorf("profile: %s must be positive and strictly ascending, got %v", field, vs)
		}
	}
	return nil
}

// Parse decodes and validates a profile; name is used in errors.
func Parse(name string, data []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &p, nil
}

// Marshal validates and encodes p as indented JSON.
func (p *Profile) Marshal() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode profile: %w", err)
	}
	return append(b, '\n'), nil
}

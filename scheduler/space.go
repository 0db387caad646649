package scheduler

import (
	"fmt"
	"math"
	"slices"

	"baton.dev/baton/bayes"
	"baton.dev/baton/workflow"
)

// MiB is a mebibyte in bytes.
const MiB = 1 << 20

// Setting is one function's CPU and memory.
type Setting struct {
	// CPUMilli is the CPU limit in millicores (1000 = one core).
	CPUMilli int64 `json:"cpuMilli"`
	// MemoryBytes is the memory limit in bytes.
	MemoryBytes int64 `json:"memoryBytes"`
}

// Config is a setting for every function of a workflow, by function name.
type Config map[string]Setting

// Resource names what a knob sets.
type Resource string

// The resources a knob can set.
const (
	ResourceCPU    Resource = "cpu"
	ResourceMemory Resource = "memory"
)

// Knob is one dimension of the search: a function's CPU in millicores
// (continuous, rounded to whole millicores) or memory in MiB (in steps).
type Knob struct {
	Function string
	Resource Resource
	// Lo and Hi are the bounds in millicores or MiB.
	Lo, Hi float64
	// Step is 0 for a continuous knob, else the step in the knob's unit.
	Step float64
}

// SpaceOptions tune NewSpace.
type SpaceOptions struct {
	// MemoryStepMiB is the memory step (default 64 MiB).
	MemoryStepMiB float64
}

// Space is the configuration space of a workflow: a knob for every auto
// resource within its bounds; fixed resources stay at their values.
type Space struct {
	// Knobs are ordered by function name, CPU before memory.
	Knobs []Knob
	// Base holds every function's setting; auto resources hold their upper bound.
	Base Config
	// Functions lists every function name, sorted.
	Functions []string
}

// NewSpace builds the space of w's auto resources.
func NewSpace(w *workflow.Workflow, opts SpaceOptions) (*Space, error) {
	if w == nil {
		return nil, fmt.Errorf("new space: nil workflow")
	}
	step := opts.MemoryStepMiB
	if step <= 0 {
		step = 64
	}
	s := &Space{Base: Config{}}
	for name := range w.Spec.Functions {
		s.Functions = append(s.Functions, name)
	}
	slices.Sort(s.Functions)
	for _, name := range s.Functions {
		f := w.Spec.Functions[name]
		set := Setting{CPUMilli: f.DefaultCPUMilli(), MemoryBytes: f.DefaultMemoryBytes()}
		if set.CPUMilli <= 0 || set.MemoryBytes <= 0 {
			return nil, fmt.Errorf("new space: function %q: auto resources without bounds", name)
		}
		s.Base[name] = set
		if f.Resources.CPU.Auto {
			b := f.Bounds.CPUMilli
			s.Knobs = append(s.Knobs, Knob{Function: name, Resource: ResourceCPU, Lo: float64(b[0]), Hi: float64(b[1])})
		}
		if f.Resources.Memory.Auto {
			b := f.Bounds.MemoryBytes
			s.Knobs = append(s.Knobs, Knob{Function: name, Resource: ResourceMemory,
				Lo: math.Ceil(float64(b[0]) / MiB), Hi: math.Floor(float64(b[1]) / MiB), Step: step})
		}
	}
	for _, k := range s.Knobs {
		if k.Hi < k.Lo {
			return nil, fmt.Errorf("new space: function %q: %s bounds hold no whole %s", k.Function, k.Resource, unitOf(k.Resource))
		}
	}
	return s, nil
}

// unitOf names a knob's unit.
func unitOf(r Resource) string {
	if r == ResourceCPU {
		return "millicore"
	}
	return "MiB"
}

// Dims returns the number of knobs.
func (s *Space) Dims() int { return len(s.Knobs) }

// Bayes returns the space as package bayes searches it.
func (s *Space) Bayes() bayes.Space {
	out := make(bayes.Space, len(s.Knobs))
	for i, k := range s.Knobs {
		out[i] = bayes.Dim{Lo: k.Lo, Hi: k.Hi, Step: k.Step}
	}
	return out
}

// Config turns a point (one value per knob) into a configuration, snapped
// into the bounds and steps, CPU rounded to whole millicores.
func (s *Space) Config(x []float64) Config {
	c := make(Config, len(s.Base))
	for name, set := range s.Base {
		c[name] = set
	}
	for i, k := range s.Knobs {
		v := bayes.Dim{Lo: k.Lo, Hi: k.Hi, Step: k.Step}.Snap(x[i])
		set := c[k.Function]
		switch k.Resource {
		case ResourceCPU:
			set.CPUMilli = int64(math.Round(v))
		case ResourceMemory:
			set.MemoryBytes = int64(math.Round(v)) * MiB
		}
		c[k.Function] = set
	}
	return c
}

// Point returns the knob values of c (missing functions read as zero).
func (s *Space) Point(c Config) []float64 {
	x := make([]float64, len(s.Knobs))
	for i, k := range s.Knobs {
		set := c[k.Function]
		if k.Resource == ResourceCPU {
			x[i] = float64(set.CPUMilli)
		} else {
			x[i] = float64(set.MemoryBytes) / MiB
		}
	}
	return x
}

// Max returns every knob at its upper bound.
func (s *Space) Max() Config {
	x := make([]float64, len(s.Knobs))
	for i, k := range s.Knobs {
		x[i] = k.Hi
	}
	return s.Config(x)
}

// Contains reports whether c sets every function, keeps fixed resources
// and keeps auto ones within their bounds and steps; the error names the first breach.
func (s *Space) Contains(c Config) error {
	for _, name := range s.Functions {
		if _, ok := c[name]; !ok {
			return fmt.Errorf("function %q has no setting", name)
		}
	}
	want := s.Config(s.Point(c))
	for _, name := range s.Functions {
		if c[name] != want[name] {
			return fmt.Errorf("function %q: setting %+v is outside the space (nearest %+v)", name, c[name], want[name])
		}
	}
	return nil
}

// Key is a canonical text of c, for maps and logs: "fn=250m/128Mi,...".
func (s *Space) Key(c Config) string {
	var b []byte
	for i, name := range s.Functions {
		if i > 0 {
			b = append(b, ',')
		}
		set := c[name]
		b = fmt.Appendf(b, "%s=%dm/%dMi", name, set.CPUMilli, set.MemoryBytes/MiB)
	}
	return string(b)
}

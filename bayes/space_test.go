package bayes

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDimSnap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d      Dim
		in     float64
		want   float64
		levels int
	}{
		{"continuous inside", Dim{0, 10, 0}, 3.3, 3.3, 0},
		{"continuous clamped", Dim{0, 10, 0}, 11, 10, 0},
		{"stepped rounds", Dim{128, 512, 64}, 200, 192, 7},
		{"stepped clamps low", Dim{128, 512, 64}, 0, 128, 7},
		{"hi off the grid is a level", Dim{100, 250, 100}, 240, 250, 3},
		{"hi off the grid, nearer a step", Dim{100, 250, 100}, 190, 200, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Snap(tc.in); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("Snap(%g) = %g, want %g", tc.in, got, tc.want)
			}
			if got := tc.d.levels(); got != tc.levels {
				t.Errorf("levels = %d, want %d", got, tc.levels)
			}
		})
	}
}

// TestMaximizeMixedSpace finds the maximum of a concave function whose
// optimum lies off the stepped grid, avoiding a forbidden region.
func TestMaximizeMixedSpace(t *testing.T) {
	s := Space{{0, 1, 0}, {128, 512, 64}, {-5, 5, 0}}
	f := func(x []float64) float64 {
		if x[2] > 3 {
			return math.Inf(-1)
		}
		return -(x[0]-0.37)*(x[0]-0.37) - ((x[1]-300)/100)*((x[1]-300)/100) - (x[2]-4)*(x[2]-4)
	}
	x, v := Maximize(f, s, MaximizeOptions{}, rand.New(rand.NewPCG(1, 2)))
	if math.Abs(x[0]-0.37) > 1e-3 || x[1] != 320 || math.Abs(x[2]-3) > 1e-3 {
		t.Errorf("argmax %v (value %g), want ≈ [0.37 320 3]", x, v)
	}
	for _, pt := range s.LatinHypercube(10, rand.New(rand.NewPCG(3, 3))) {
		if m := math.Mod(pt[1]-128, 64); m != 0 {
			t.Errorf("Latin hypercube point %v is off the memory steps", pt)
		}
	}
}

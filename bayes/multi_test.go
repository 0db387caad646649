package bayes

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMultiMatchesSingleGPs checks that every output of a Multi predicts
// what a GP with the same hyper-parameters predicts, mean and variance.
func TestMultiMatchesSingleGPs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var x [][]float64
	ys := make([][]float64, 3)
	for i := 0; i < 15; i++ {
		a, b := rng.Float64(), rng.Float64()
		x = append(x, []float64{a, b})
		ys[0] = append(ys[0], math.Sin(3*a)+b)
		ys[1] = append(ys[1], 10*a*b+rng.NormFloat64()*0.1)
		ys[2] = append(ys[2], 5) // constant: standardises to zeros
	}
	bounds := []Interval{{0, 1}, {0, 1}}
	for _, tc := range []struct {
		name string
		lead int
	}{{"lead first", 0}, {"lead second", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FitMulti(x, ys, tc.lead, bounds, FitOptions{}, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			h := m.Hyper()
			p := m.NewPredictor()
			means := make([]float64, m.Outputs())
			for _, at := range [][]float64{{0.1, 0.9}, {0.5, 0.5}, x[3]} {
				sv := p.Predict(at, means)
				for k, y := range ys {
					g, err := Fit(x, y, bounds, FitOptions{Fixed: &h}, rng)
					if err != nil {
						t.Fatal(err)
					}
					wm, wv := g.Predict(at)
					if gv := sv * m.Scale(k) * m.Scale(k); math.Abs(means[k]-wm) > 1e-9 || math.Abs(gv-wv) > 1e-9 {
						t.Errorf("output %d at %v: (%g, %g), want the single GP's (%g, %g)", k, at, means[k], gv, wm, wv)
					}
				}
			}
		})
	}
	if _, err := FitMulti(x, ys, 3, bounds, FitOptions{}, rng); err == nil {
		t.Error("lead output out of range: no error")
	}
	if _, err := FitMulti(x, [][]float64{ys[0], ys[1][:4]}, 0, bounds, FitOptions{}, rng); err == nil {
		t.Error("an output of the wrong length: no error")
	}
}

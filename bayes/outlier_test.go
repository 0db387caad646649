package bayes

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestLeaveOneOutMatchesRefit compares the closed form with conditioning on
// all points but one, explicitly, in the model's standardised space.
func TestLeaveOneOutMatchesRefit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var x [][]float64
	var y []float64
	for i := 0; i < 8; i++ {
		xi := []float64{rng.Float64(), rng.Float64()}
		x = append(x, xi)
		y = append(y, math.Cos(3*xi[0])+xi[1]+0.1*rng.NormFloat64())
	}
	h := Hyper{LogLengthScales: []float64{math.Log(0.4), math.Log(0.7)}, LogSignalVariance: 0, LogNoiseVariance: math.Log(0.05)}
	g, err := Fit(x, y, []Interval{{0, 1}, {0, 1}}, FitOptions{Fixed: &h}, rng)
	if err != nil {
		t.Fatal(err)
	}
	mean, variance, err := g.LeaveOneOut()
	if err != nil {
		t.Fatal(err)
	}
	n := len(x)
	for i := 0; i < n; i++ {
		var idx []int
		for j := 0; j < n; j++ {
			if j != i {
				idx = append(idx, j)
			}
		}
		k := mat.NewDense(n-1, n-1, nil)
		ks := mat.NewVecDense(n-1, nil)
		yv := mat.NewVecDense(n-1, nil)
		for a, ia := range idx {
			for b, ib := range idx {
				v := Matern52(g.x[ia], g.x[ib], g.invLS, g.sf2)
				if a == b {
					v += g.sn2
				}
				k.Set(a, b, v)
			}
			ks.SetVec(a, Matern52(g.x[i], g.x[ia], g.invLS, g.sf2))
			yv.SetVec(a, g.y[ia])
		}
		var kinv mat.Dense
		if err := kinv.Inverse(k); err != nil {
			t.Fatal(err)
		}
		var w mat.VecDense
		w.MulVec(&kinv, ks)
		m := g.std.mean + g.std.sd*mat.Dot(&w, yv)
		v := (g.sf2 + g.sn2 - mat.Dot(&w, ks)) * g.std.sd * g.std.sd
		if math.Abs(m-mean[i]) > 1e-9 || math.Abs(v-variance[i]) > 1e-9 {
			t.Errorf("point %d: LOO (%g, %g), refit (%g, %g)", i, mean[i], variance[i], m, v)
		}
	}
}

// TestOutliersFlagsSpike plants one bad sample in smooth data.
func TestOutliersFlagsSpike(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var x [][]float64
	var y []float64
	for i := 0; i < 25; i++ {
		v := float64(i) / 24
		x = append(x, []float64{v})
		y = append(y, 2*v+math.Sin(5*v)+0.02*rng.NormFloat64())
	}
	const spike = 12
	y[spike] += 1.5
	g, err := Fit(x, y, []Interval{{0, 1}}, FitOptions{Restarts: 3}, rng)
	if err != nil {
		t.Fatal(err)
	}
	idx, res, err := g.Outliers(4)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 1 || idx[0] != spike {
		t.Fatalf("outliers %v (residuals %v), want [%d]", idx, res, spike)
	}
}

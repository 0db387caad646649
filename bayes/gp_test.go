package bayes

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestPosteriorTinyByHand checks the posterior of two observations against
// the 2×2 closed form: μ* = k*ᵀK⁻¹y, σ*² = k** − k*ᵀK⁻¹k*.
func TestPosteriorTinyByHand(t *testing.T) {
	// Outputs 3 and 5 standardise to −1 and +1 (mean 4, sd 1).
	x := [][]float64{{0}, {1}}
	y := []float64{3, 5}
	const ls, sf2, sn2 = 0.7, 1.3, 0.1
	h := Hyper{LogLengthScales: []float64{math.Log(ls)}, LogSignalVariance: math.Log(sf2), LogNoiseVariance: math.Log(sn2)}
	g, err := Fit(x, y, []Interval{{0, 1}}, FitOptions{Fixed: &h}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	k := func(r float64) float64 {
		r /= ls
		return sf2 * (1 + math.Sqrt(5)*r + 5*r*r/3) * math.Exp(-math.Sqrt(5)*r)
	}
	a, c := sf2+sn2, k(1) // K = [[a c] [c a]]
	det := a*a - c*c
	ys := []float64{-1, 1}
	for _, tc := range []struct {
		name string
		x    float64
	}{{"between", 0.25}, {"middle", 0.5}, {"at an observation", 1}, {"outside", 1.5}} {
		t.Run(tc.name, func(t *testing.T) {
			k1, k2 := k(math.Abs(tc.x-0)), k(math.Abs(tc.x-1))
			// K⁻¹ = [[a −c] [−c a]] / det
			alpha := []float64{(a*ys[0] - c*ys[1]) / det, (-c*ys[0] + a*ys[1]) / det}
			wantMean := 4 + (k1*alpha[0] + k2*alpha[1])
			quad := (a*k1*k1 - 2*c*k1*k2 + a*k2*k2) / det
			wantVar := sf2 - quad
			m, v := g.Predict([]float64{tc.x})
			if math.Abs(m-wantMean) > 1e-10 || math.Abs(v-wantVar) > 1e-10 {
				t.Errorf("Predict(%g) = (%.12f, %.12f), want (%.12f, %.12f)", tc.x, m, v, wantMean, wantVar)
			}
			pm, pv := g.NewPredictor().Predict([]float64{tc.x})
			if pm != m || pv != v {
				t.Errorf("Predictor.Predict(%g) = (%g, %g), GP.Predict = (%g, %g)", tc.x, pm, pv, m, v)
			}
		})
	}
	if nv := g.NoiseVariance(); math.Abs(nv-sn2) > 1e-12 {
		t.Errorf("NoiseVariance = %g, want %g", nv, sn2)
	}
}

// TestInputScaling checks that inputs are mapped to the unit cube: the same
// data on [0, 1] and on [100, 300] give the same posterior.
func TestInputScaling(t *testing.T) {
	h := Hyper{LogLengthScales: []float64{math.Log(0.4)}, LogSignalVariance: 0, LogNoiseVariance: math.Log(0.05)}
	rng := rand.New(rand.NewPCG(1, 1))
	unit, err := Fit([][]float64{{0}, {0.3}, {1}}, []float64{1, 2, 0}, []Interval{{0, 1}}, FitOptions{Fixed: &h}, rng)
	if err != nil {
		t.Fatal(err)
	}
	wide, err := Fit([][]float64{{100}, {160}, {300}}, []float64{1, 2, 0}, []Interval{{100, 300}}, FitOptions{Fixed: &h}, rng)
	if err != nil {
		t.Fatal(err)
	}
	m1, v1 := unit.Predict([]float64{0.6})
	m2, v2 := wide.Predict([]float64{220})
	if math.Abs(m1-m2) > 1e-12 || math.Abs(v1-v2) > 1e-12 {
		t.Errorf("unit (%g, %g) != scaled (%g, %g)", m1, v1, m2, v2)
	}
}

// TestLogMarginalLikelihoodClosedForm compares with a dense computation.
func TestLogMarginalLikelihoodClosedForm(t *testing.T) {
	x := [][]float64{{0.1, 0.2}, {0.5, 0.9}, {0.8, 0.4}}
	y := []float64{0.3, -1.2, 0.9}
	h := Hyper{LogLengthScales: []float64{math.Log(0.3), math.Log(0.8)}, LogSignalVariance: math.Log(1.5), LogNoiseVariance: math.Log(0.2)}
	got, _, err := LogMarginalLikelihood(x, y, h)
	if err != nil {
		t.Fatal(err)
	}
	n := len(x)
	k := mat.NewDense(n, n, nil)
	inv := invScales(h.LogLengthScales)
	for i := range x {
		for j := range x {
			v := Matern52(x[i], x[j], inv, 1.5)
			if i == j {
				v += 0.2
			}
			k.Set(i, j, v)
		}
	}
	var kinv mat.Dense
	if err := kinv.Inverse(k); err != nil {
		t.Fatal(err)
	}
	yv := mat.NewVecDense(n, y)
	var a mat.VecDense
	a.MulVec(&kinv, yv)
	want := -0.5*mat.Dot(yv, &a) - 0.5*math.Log(mat.Det(k)) - 0.5*float64(n)*math.Log(2*math.Pi)
	if math.Abs(got-want) > 1e-10 {
		t.Errorf("LML = %.12f, want %.12f", got, want)
	}
}

// TestLogMarginalLikelihoodGradient checks the analytic gradient against
// central finite differences.
func TestLogMarginalLikelihoodGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct {
		name string
		n, d int
		h    []float64
	}{
		{"1d", 5, 1, []float64{math.Log(0.3), 0, math.Log(0.1)}},
		{"3d", 12, 3, []float64{math.Log(0.2), math.Log(1), math.Log(3), math.Log(2), math.Log(0.01)}},
		{"8d noisy", 20, 8, []float64{-1, -0.5, 0, 0.5, 1, -2, 0.3, 0.1, 0.4, math.Log(0.5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := make([][]float64, tc.n)
			y := make([]float64, tc.n)
			for i := range x {
				x[i] = make([]float64, tc.d)
				for j := range x[i] {
					x[i][j] = rng.Float64()
				}
				y[i] = math.Sin(3*x[i][0]) + 0.1*rng.NormFloat64()
			}
			_, grad, err := LogMarginalLikelihood(x, y, hyperFromVector(tc.h))
			if err != nil {
				t.Fatal(err)
			}
			const eps = 1e-6
			for i := range tc.h {
				up, down := append([]float64(nil), tc.h...), append([]float64(nil), tc.h...)
				up[i] += eps
				down[i] -= eps
				fu, _, err1 := LogMarginalLikelihood(x, y, hyperFromVector(up))
				fd, _, err2 := LogMarginalLikelihood(x, y, hyperFromVector(down))
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				num := (fu - fd) / (2 * eps)
				if math.Abs(num-grad[i]) > 1e-5*math.Max(1, math.Abs(num)) {
					t.Errorf("∂LML/∂θ[%d] = %.8f, finite difference %.8f", i, grad[i], num)
				}
			}
		})
	}
}

// TestFitRecoversFunction fits noisy samples of a smooth function and checks
// the posterior mean, the noise estimate and determinism given the seed.
func TestFitRecoversFunction(t *testing.T) {
	f := func(x []float64) float64 { return 10 + 3*math.Sin(4*x[0]) + 2*x[1]*x[1] }
	data := rand.New(rand.NewPCG(3, 4))
	var xs [][]float64
	var ys []float64
	for i := 0; i < 40; i++ {
		x := []float64{data.Float64(), data.Float64()}
		xs = append(xs, x)
		ys = append(ys, f(x)+0.05*data.NormFloat64())
	}
	b := []Interval{{0, 1}, {0, 1}}
	g1, err := Fit(xs, ys, b, FitOptions{Restarts: 3}, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Fit(xs, ys, b, FitOptions{Restarts: 3}, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	if h1, h2 := g1.Hyper(), g2.Hyper(); h1.LogNoiseVariance != h2.LogNoiseVariance || h1.LogLengthScales[0] != h2.LogLengthScales[0] {
		t.Errorf("same seed, different fits: %+v vs %+v", h1, h2)
	}
	for _, x := range [][]float64{{0.2, 0.3}, {0.5, 0.5}, {0.9, 0.8}} {
		m, v := g1.Predict(x)
		if math.Abs(m-f(x)) > 0.15 {
			t.Errorf("mean at %v = %.3f, want %.3f ± 0.15 (sd %.3f)", x, m, f(x), math.Sqrt(v))
		}
	}
	if nv := g1.NoiseVariance(); nv < 0.0005 || nv > 0.02 {
		t.Errorf("noise variance %.5f, true 0.0025", nv)
	}
}

// TestJitterOnDuplicates factors a singular covariance (duplicated inputs,
// negligible noise) by adding jitter.
func TestJitterOnDuplicates(t *testing.T) {
	h := Hyper{LogLengthScales: []float64{0}, LogSignalVariance: 0, LogNoiseVariance: -60}
	x := [][]float64{{0.5}, {0.5}, {0.5}, {0.2}}
	g, err := Fit(x, []float64{1, 1.1, 0.9, 0}, []Interval{{0, 1}}, FitOptions{Fixed: &h}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if g.f.jitter == 0 {
		t.Error("expected a jitter on a singular covariance")
	}
	if m, _ := g.Predict([]float64{0.5}); math.Abs(m-1) > 0.05 {
		t.Errorf("mean at the duplicated input = %g, want ≈ 1", m)
	}
}

func TestFitRejectsBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	b := []Interval{{0, 1}}
	for _, tc := range []struct {
		name string
		x    [][]float64
		y    []float64
		b    []Interval
	}{
		{"no data", nil, nil, b},
		{"length mismatch", [][]float64{{0}}, []float64{1, 2}, b},
		{"wrong dims", [][]float64{{0, 1}}, []float64{1}, b},
		{"NaN output", [][]float64{{0}}, []float64{math.NaN()}, b},
		{"inverted bounds", [][]float64{{0}}, []float64{1}, []Interval{{1, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Fit(tc.x, tc.y, tc.b, FitOptions{}, rng); err == nil {
				t.Error("Fit succeeded, want an error")
			}
		})
	}
}

// TestLMLWorkReusesBuffers: a workspace evaluated at other hyper-parameters
// in between gives the same value and gradient as a fresh one, including
// after a jittered factorisation (duplicated inputs, negligible noise).
func TestLMLWorkReusesBuffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([][]float64, 30)
	y := make([]float64, len(x))
	for i := range x {
		x[i] = []float64{rng.Float64(), rng.Float64(), rng.Float64()}
		y[i] = math.Cos(4*x[i][1]) + 0.05*rng.NormFloat64()
	}
	x[7] = slices.Clone(x[3]) // a duplicate: singular without noise
	hs := []Hyper{
		{LogLengthScales: []float64{-1, 0, 1}, LogSignalVariance: 0.2, LogNoiseVariance: -3},
		{LogLengthScales: []float64{0.5, -2, 0}, LogSignalVariance: -0.5, LogNoiseVariance: -40},
		{LogLengthScales: []float64{-0.3, -0.3, -0.3}, LogSignalVariance: 1, LogNoiseVariance: -1},
	}
	w := newLMLWork(x, y)
	for round := range 2 {
		for i, h := range hs {
			got, gg, err := w.eval(h, true)
			if err != nil {
				t.Fatal(err)
			}
			want, wg, err := newLMLWork(x, y).eval(h, true)
			if err != nil {
				t.Fatal(err)
			}
			if got != want || !slices.Equal(gg, wg) {
				t.Errorf("round %d hyper %d: reused workspace gave %g %v, fresh %g %v", round, i, got, gg, want, wg)
			}
			if math.IsNaN(got) || math.IsInf(got, 0) {
				t.Errorf("hyper %d: LML %g", i, got)
			}
		}
	}
}

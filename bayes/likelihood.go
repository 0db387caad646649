package bayes

import (
	"errors"
	"fmt"
	"math"
)

// log2Pi is log(2π).
var log2Pi = math.Log(2 * math.Pi)

// LogMarginalLikelihood returns the log marginal likelihood of outputs y at
// inputs x under a zero-mean GP with the Matérn 5/2 ARD kernel and hyper h,
//
//	log p(y | x, h) = −½ yᵀK⁻¹y − ½ log det K − (n/2) log 2π,  K = K_f + σ_n² I,
//
// and its gradient with respect to h's vector [log ℓ_1..log ℓ_d, log σ_f², log σ_n²]:
//
//	∂/∂θ = ½ tr((ααᵀ − K⁻¹) ∂K/∂θ),  α = K⁻¹y.
//
// Inputs and outputs are used as given (Fit scales and standardises first).
func LogMarginalLikelihood(x [][]float64, y []float64, h Hyper) (float64, []float64, error) {
	if len(x) == 0 || len(x) != len(y) {
		return 0, nil, fmt.Errorf("log marginal likelihood: %d inputs for %d outputs", len(x), len(y))
	}
	if len(h.LogLengthScales) != len(x[0]) {
		return 0, nil, fmt.Errorf("log marginal likelihood: %d length-scales for %d dimensions", len(h.LogLengthScales), len(x[0]))
	}
	return logMarginal(x, y, h, true)
}

// logMarginal computes the log marginal likelihood and, when withGrad, its gradient.
func logMarginal(x [][]float64, y []float64, h Hyper, withGrad bool) (float64, []float64, error) {
	n, d := len(x), len(h.LogLengthScales)
	inv := invScales(h.LogLengthScales)
	sf2, sn2 := math.Exp(h.LogSignalVariance), math.Exp(h.LogNoiseVariance)
	k := make([]float64, n*n)
	var dk [][]float64 // dk[d] is ∂K/∂log ℓ_d, upper triangle used
	if withGrad {
		dk = make([][]float64, d)
		for i := range dk {
			dk[i] = make([]float64, n*n)
		}
	}
	tmp := make([]float64, d)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			var v float64
			if withGrad {
				v = matern52Grad(x[i], x[j], inv, sf2, tmp)
				for q := 0; q < d; q++ {
					dk[q][i*n+j] = tmp[q]
				}
			} else {
				v = Matern52(x[i], x[j], inv, sf2)
			}
			k[i*n+j], k[j*n+i] = v, v
		}
		k[i*n+i] += sn2
	}
	f, err := factorize(k, n)
	if err != nil {
		return 0, nil, err
	}
	alpha := f.solve(y)
	var fit float64
	for i := range y {
		fit += y[i] * alpha[i]
	}
	lml := -0.5*fit - 0.5*f.logDet() - 0.5*float64(n)*log2Pi
	if math.IsNaN(lml) || math.IsInf(lml, 0) {
		return 0, nil, errors.New("log marginal likelihood is not finite")
	}
	if !withGrad {
		return lml, nil, nil
	}
	kinv, err := f.inverse()
	if err != nil {
		return 0, nil, err
	}
	grad := make([]float64, d+2)
	// w = ααᵀ − K⁻¹; ∂K is symmetric, so sum the upper triangle twice.
	var gSignal, trW float64
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			w := alpha[i]*alpha[j] - kinv[i*n+j]
			mult := 2.0
			if i == j {
				mult = 1
				trW += w
			}
			kf := k[i*n+j]
			if i == j {
				kf -= sn2 // ∂K/∂log σ_f² = K_f, without the noise
			}
			gSignal += mult * w * kf
			for q := 0; q < d; q++ {
				grad[q] += mult * w * dk[q][i*n+j]
			}
		}
	}
	for q := 0; q < d; q++ {
		grad[q] *= 0.5
	}
	grad[d] = 0.5 * gSignal
	grad[d+1] = 0.5 * sn2 * trW
	return lml, grad, nil
}

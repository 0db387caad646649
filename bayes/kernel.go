package bayes

import "math"

// sqrt5 is √5, the Matérn 5/2 kernel's constant.
var sqrt5 = math.Sqrt(5)

// Hyper are a GP's hyper-parameters, all as natural logarithms so that any
// real vector is valid: one length-scale per input dimension (inputs scaled to
// the unit cube), the signal variance and the noise variance (outputs
// standardised to mean 0, variance 1).
type Hyper struct {
	// LogLengthScales has one entry per input dimension (ARD).
	LogLengthScales []float64
	// LogSignalVariance is log σ_f².
	LogSignalVariance float64
	// LogNoiseVariance is log σ_n².
	LogNoiseVariance float64
}

// vector packs h as [log ℓ_1..log ℓ_d, log σ_f², log σ_n²].
func (h Hyper) vector() []float64 {
	v := make([]float64, 0, len(h.LogLengthScales)+2)
	v = append(v, h.LogLengthScales...)
	return append(v, h.LogSignalVariance, h.LogNoiseVariance)
}

// hyperFromVector is the inverse of Hyper.vector.
func hyperFromVector(v []float64) Hyper {
	d := len(v) - 2
	return Hyper{
		LogLengthScales:   append([]float64(nil), v[:d]...),
		LogSignalVariance: v[d],
		LogNoiseVariance:  v[d+1],
	}
}

// Clone returns a deep copy of h.
func (h Hyper) Clone() Hyper { return hyperFromVector(h.vector()) }

// Matern52 is the Matérn 5/2 ARD covariance between x and y:
//
//	k(r) = σ_f² (1 + √5 r + 5r²/3) exp(−√5 r),  r² = Σ_d ((x_d − y_d)/ℓ_d)²
//
// where invLengthScales holds 1/ℓ_d.
func Matern52(x, y, invLengthScales []float64, signalVariance float64) float64 {
	var r2 float64
	for d := range x {
		t := (x[d] - y[d]) * invLengthScales[d]
		r2 += t * t
	}
	r := math.Sqrt(r2)
	return signalVariance * (1 + sqrt5*r + 5*r2/3) * math.Exp(-sqrt5*r)
}

// invScales returns 1/ℓ_d for log length-scales.
func invScales(logLS []float64) []float64 {
	out := make([]float64, len(logLS))
	for i, l := range logLS {
		out[i] = math.Exp(-l)
	}
	return out
}

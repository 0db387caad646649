package bayes

import "math"

// NormalCDF is Φ(z), the standard normal cumulative distribution.
func NormalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// NormalPDF is φ(z), the standard normal density.
func NormalPDF(z float64) float64 { return math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi) }

// ExpectedImprovement is the expected improvement below best of a quantity
// to minimise whose posterior is normal with the given mean and standard
// deviation:
//
//	EI = (best − μ) Φ(z) + σ φ(z),  z = (best − μ)/σ,
//
// and max(best − μ, 0) when σ is 0.
func ExpectedImprovement(mean, sd, best float64) float64 {
	if !(sd > 0) {
		return math.Max(best-mean, 0)
	}
	z := (best - mean) / sd
	return (best-mean)*NormalCDF(z) + sd*NormalPDF(z)
}

// ProbabilityBelow is P(Y ≤ threshold) for Y ~ N(mean, sd²); a step when sd is 0.
func ProbabilityBelow(mean, sd, threshold float64) float64 {
	if !(sd > 0) {
		if mean <= threshold {
			return 1
		}
		return 0
	}
	return NormalCDF((threshold - mean) / sd)
}

// ConstrainedEI is the constrained expected improvement of Gardner et al.:
// the expected improvement of the objective (minimised, incumbent best)
// times the probability that the constraint's value stays at or below its limit.
func ConstrainedEI(objMean, objSD, best, conMean, conSD, limit float64) float64 {
	return ExpectedImprovement(objMean, objSD, best) * ProbabilityBelow(conMean, conSD, limit)
}

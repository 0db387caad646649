package bayes

import (
	"fmt"
	"math"
)

// LeaveOneOut returns, for every observation i, the mean and variance of the
// predictive distribution of y_i from the model conditioned on all the other
// observations (same hyper-parameters), in closed form (Rasmussen & Williams
// eq. 5.12): μ_i = y_i − [K⁻¹y]_i / [K⁻¹]_ii, σ_i² = 1 / [K⁻¹]_ii, where K
// includes the noise, so σ_i² is the variance of a new noisy observation.
func (g *GP) LeaveOneOut() (mean, variance []float64, err error) {
	kinv, err := g.f.inverse()
	if err != nil {
		return nil, nil, fmt.Errorf("leave-one-out: %w", err)
	}
	n := len(g.y)
	mean, variance = make([]float64, n), make([]float64, n)
	sd := g.std.sd
	for i := 0; i < n; i++ {
		d := kinv[i*n+i]
		mean[i] = g.std.mean + sd*(g.y[i]-g.alpha[i]/d)
		variance[i] = sd * sd / d
	}
	return mean, variance, nil
}

// Outliers returns the indexes of the observations that lie more than z
// standard deviations outside their leave-one-out predictive distribution,
// with their standardised residuals. Such a sample should be re-measured
// before it is trusted or dropped.
func (g *GP) Outliers(z float64) (index []int, residual []float64, err error) {
	mean, variance, err := g.LeaveOneOut()
	if err != nil {
		return nil, nil, err
	}
	for i := range mean {
		y := g.std.mean + g.std.sd*g.y[i]
		r := (y - mean[i]) / math.Sqrt(variance[i])
		if math.Abs(r) > z {
			index = append(index, i)
			residual = append(residual, r)
		}
	}
	return index, residual, nil
}

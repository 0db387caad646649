package forecast

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaPoissonConfig sets up a GammaPoisson forecaster.
type GammaPoissonConfig struct {
	// Discount in (0, 1] is how much of its weight a past interval keeps
	// per interval (default 0.95: an effective memory of 20 intervals).
	Discount float64
	// Shape and Rate are the gamma prior of the rate (defaults 0.5 and 1:
	// half an arrival per interval, weakly held).
	Shape, Rate float64
	// Horizon is how many intervals ahead Predict looks (default 1); the
	// local level predicts the same rate at every horizon.
	Horizon int
}

// GammaPoisson is a discounted gamma-Poisson local-level model: counts are
// Poisson with a rate whose gamma posterior forgets geometrically (West &
// Harrison's discount), so the predictive is negative binomial. It knows
// no time of day and no lags; it is the baseline BayesLinear is measured
// against.
type GammaPoisson struct {
	cfg         GammaPoissonConfig
	shape, rate float64
}

// NewGammaPoisson returns a GammaPoisson at its prior.
func NewGammaPoisson(cfg GammaPoissonConfig) (*GammaPoisson, error) {
	if cfg.Discount == 0 {
		cfg.Discount = 0.95
	}
	if cfg.Shape == 0 {
		cfg.Shape = 0.5
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1
	}
	if cfg.Horizon == 0 {
		cfg.Horizon = 1
	}
	if !(cfg.Discount > 0 && cfg.Discount <= 1) || !(cfg.Shape > 0) || !(cfg.Rate > 0) || cfg.Horizon < 1 {
		return nil, fmt.Errorf("gamma-Poisson forecaster: discount %v, shape %v, rate %v, horizon %d: want discount in (0, 1], shape and rate > 0, horizon ≥ 1",
			cfg.Discount, cfg.Shape, cfg.Rate, cfg.Horizon)
	}
	return &GammaPoisson{cfg: cfg, shape: cfg.Shape, rate: cfg.Rate}, nil
}

// Observe implements Forecaster.
func (g *GammaPoisson) Observe(count int) {
	d := g.cfg.Discount
	// Discount toward the prior so that a long silence does not make the
	// posterior arbitrarily sharp.
	g.shape = d*g.shape + (1-d)*g.cfg.Shape + float64(count)
	g.rate = d*g.rate + (1-d)*g.cfg.Rate + 1
}

// Predict implements Forecaster.
func (g *GammaPoisson) Predict() Predictive {
	return NegativeBinomial{Shape: g.shape, P: g.rate / (g.rate + 1)}
}

// Horizon implements Forecaster.
func (g *GammaPoisson) Horizon() int { return g.cfg.Horizon }

// NegativeBinomial is the count distribution P(N = k) = Γ(k+r)/(Γ(r) k!)
// p^r (1−p)^k with r = Shape, the predictive of a Poisson count whose rate
// is Gamma(Shape, rate) with p = rate/(rate+1).
type NegativeBinomial struct {
	Shape, P float64
}

// Mean implements Predictive.
func (nb NegativeBinomial) Mean() float64 { return nb.Shape * (1 - nb.P) / nb.P }

// CDF implements Predictive.
func (nb NegativeBinomial) CDF(k int) float64 {
	if k < 0 {
		return 0
	}
	return mathext.RegIncBeta(nb.Shape, float64(k)+1, nb.P)
}

// Quantile implements Predictive.
func (nb NegativeBinomial) Quantile(p float64) int {
	return quantileBySearch(nb.CDF, p, int(math.Ceil(nb.Mean()))+1)
}

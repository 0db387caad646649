package bayes

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GP is a fitted Gaussian-process regression model: Matérn 5/2 ARD kernel,
// Gaussian noise, inputs scaled to the unit cube of the bounds given to Fit,
// outputs standardised. It is immutable once fitted and safe for concurrent use.
type GP struct {
	scaler  unitScaler
	std     standardiser
	x       [][]float64 // scaled inputs
	y       []float64   // standardised outputs
	hyper   Hyper
	invLS   []float64
	sf2     float64
	sn2     float64
	f       *factor
	alpha   []float64
	lml     float64
	fitErrs int // optimiser starts that failed, for diagnostics
}

// Fit fits a GP to outputs y observed at inputs x (each of len(bounds)
// dimensions, inside bounds), choosing hyper-parameters by maximising the log
// marginal likelihood plus a weak log-normal prior (see FitOptions). rng
// drives the random restarts; the result is deterministic given its state.
func Fit(x [][]float64, y []float64, bounds []Interval, opts FitOptions, rng *rand.Rand) (*GP, error) {
	if len(x) == 0 {
		return nil, fmt.Errorf("fit GP: no observations")
	}
	if len(x) != len(y) {
		return nil, fmt.Errorf("fit GP: %d inputs for %d outputs", len(x), len(y))
	}
	scaler, err := newUnitScaler(bounds)
	if err != nil {
		return nil, fmt.Errorf("fit GP: %w", err)
	}
	g := &GP{scaler: scaler, std: newStandardiser(y)}
	for i, xi := range x {
		if len(xi) != len(bounds) {
			return nil, fmt.Errorf("fit GP: observation %d has %d dimensions, want %d", i, len(xi), len(bounds))
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("fit GP: observation %d: output %g is not finite", i, y[i])
		}
		g.x = append(g.x, scaler.scale(make([]float64, len(xi)), xi))
		g.y = append(g.y, (y[i]-g.std.mean)/g.std.sd)
	}
	h, failed, err := fitHyper(g.x, g.y, opts, rng)
	if err != nil {
		return nil, fmt.Errorf("fit GP: %w", err)
	}
	g.fitErrs = failed
	if err := g.condition(h); err != nil {
		return nil, fmt.Errorf("fit GP: %w", err)
	}
	return g, nil
}

// condition factors the covariance for hyper h and caches what prediction needs.
func (g *GP) condition(h Hyper) error {
	n := len(g.x)
	g.hyper = h.Clone()
	g.invLS = invScales(h.LogLengthScales)
	g.sf2, g.sn2 = math.Exp(h.LogSignalVariance), math.Exp(h.LogNoiseVariance)
	k := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := Matern52(g.x[i], g.x[j], g.invLS, g.sf2)
			k[i*n+j], k[j*n+i] = v, v
		}
		k[i*n+i] += g.sn2
	}
	f, err := factorize(k, n)
	if err != nil {
		return err
	}
	g.f = f
	g.alpha = f.solve(g.y)
	var fit float64
	for i := range g.y {
		fit += g.y[i] * g.alpha[i]
	}
	g.lml = -0.5*fit - 0.5*f.logDet() - 0.5*float64(n)*log2Pi
	return nil
}

// Hyper returns the fitted hyper-parameters (a copy), e.g. to warm-start
// the next fit.
func (g *GP) Hyper() Hyper { return g.hyper.Clone() }

// LogMarginalLikelihood returns the fitted model's log marginal likelihood
// of the standardised outputs.
func (g *GP) LogMarginalLikelihood() float64 { return g.lml }

// Len returns the number of observations.
func (g *GP) Len() int { return len(g.x) }

// NoiseVariance returns the fitted observation-noise variance in output units.
func (g *GP) NoiseVariance() float64 { return g.sn2 * g.std.sd * g.std.sd }

// Predict returns the posterior mean and variance of the latent function at
// x, in output units. The variance excludes observation noise; add
// NoiseVariance for the predictive distribution of a new observation.
func (g *GP) Predict(x []float64) (mean, variance float64) {
	v := make([]float64, len(g.x))
	g.kernelAt(make([]float64, len(x)), v, x)
	return g.posterior(v)
}

// posterior turns k* (overwritten) into the posterior mean and variance.
func (g *GP) posterior(kstar []float64) (mean, variance float64) {
	var m float64
	for i, kv := range kstar {
		m += kv * g.alpha[i]
	}
	variance = g.latentVariance(kstar)
	sd := g.std.sd
	return g.std.mean + sd*m, variance * sd * sd
}

// kernelAt writes k* at x into buf (one per input), scaling x into xs.
func (g *GP) kernelAt(xs, buf, x []float64) {
	xs = g.scaler.scale(xs, x)
	for i := range g.x {
		buf[i] = Matern52(xs, g.x[i], g.invLS, g.sf2)
	}
}

// latentVariance turns k* (overwritten) into the posterior variance in
// standardised units, σ_f² less what the data explain, at least 0.
func (g *GP) latentVariance(kstar []float64) float64 {
	g.f.forward(kstar)
	var q float64
	for _, v := range kstar {
		q += v * v
	}
	return math.Max(0, g.sf2-q)
}

// Predictor predicts many points without allocating per point. It is not
// safe for concurrent use; make one per goroutine.
type Predictor struct {
	g       *GP
	xs, buf []float64
}

// NewPredictor returns a reusable predictor for g.
func (g *GP) NewPredictor() *Predictor {
	return &Predictor{g: g, xs: make([]float64, len(g.scaler.lo)), buf: make([]float64, len(g.x))}
}

// Predict is GP.Predict without allocations.
func (p *Predictor) Predict(x []float64) (mean, variance float64) {
	p.g.kernelAt(p.xs, p.buf, x)
	return p.g.posterior(p.buf)
}

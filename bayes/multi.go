package bayes

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Multi is several GP regressions on the same inputs that share one kernel
// and one noise level: the hyper-parameters are fitted to one lead output
// and every output is conditioned on them. Prediction then computes the
// kernel vector and the variance once for all outputs, which is what makes
// modelling a whole distribution (one output per quantile level) as cheap as
// one GP. Each output is standardised on its own, so the shared noise and
// signal variances are relative to each output's spread. It is immutable
// once fitted and safe for concurrent use.
type Multi struct {
	lead   *GP // fitted to the lead output: the inputs, kernel and factor
	stds   []standardiser
	alphas [][]float64 // K⁻¹y per standardised output
}

// FitMulti fits outputs ys (ys[k][i] is output k at input x[i]) with
// hyper-parameters chosen, as Fit chooses them, for ys[lead].
func FitMulti(x [][]float64, ys [][]float64, lead int, bounds []Interval, opts FitOptions, rng *rand.Rand) (*Multi, error) {
	if lead < 0 || lead >= len(ys) {
		return nil, fmt.Errorf("fit multi-output GP: lead output %d of %d", lead, len(ys))
	}
	g, err := Fit(x, ys[lead], bounds, opts, rng)
	if err != nil {
		return nil, fmt.Errorf("fit multi-output GP: %w", err)
	}
	m := &Multi{lead: g}
	for k, y := range ys {
		if len(y) != len(x) {
			return nil, fmt.Errorf("fit multi-output GP: output %d has %d values for %d inputs", k, len(y), len(x))
		}
		std := newStandardiser(y)
		z := make([]float64, len(y))
		for i, v := range y {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("fit multi-output GP: output %d, observation %d: %g is not finite", k, i, v)
			}
			z[i] = (v - std.mean) / std.sd
		}
		m.stds = append(m.stds, std)
		m.alphas = append(m.alphas, g.f.solve(z))
	}
	return m, nil
}

// Hyper returns the shared hyper-parameters (a copy), e.g. to warm-start
// the next fit.
func (m *Multi) Hyper() Hyper { return m.lead.Hyper() }

// Outputs returns the number of outputs.
func (m *Multi) Outputs() int { return len(m.alphas) }

// MultiPredictor predicts every output of a Multi without allocating per
// point. It is not safe for concurrent use; make one per goroutine.
type MultiPredictor struct {
	m       *Multi
	xs, buf []float64
}

// NewPredictor returns a reusable predictor for m.
func (m *Multi) NewPredictor() *MultiPredictor {
	return &MultiPredictor{m: m, xs: make([]float64, len(m.lead.scaler.lo)), buf: make([]float64, len(m.lead.x))}
}

// Predict writes every output's posterior mean at x into means (one per
// output) and returns the shared posterior variance in standardised units
// (σ_f² less what the data explain): output k's variance is it times
// Scale(k)². The variance excludes observation noise.
func (p *MultiPredictor) Predict(x []float64, means []float64) (standardVariance float64) {
	m := p.m
	m.lead.kernelAt(p.xs, p.buf, x)
	for k, a := range m.alphas {
		var s float64
		for i, kv := range p.buf {
			s += kv * a[i]
		}
		means[k] = m.stds[k].mean + m.stds[k].sd*s
	}
	return m.lead.latentVariance(p.buf)
}

// Scale returns output k's standard deviation over the data, the factor
// from standardised to output units.
func (m *Multi) Scale(k int) float64 { return m.stds[k].sd }

package bayes

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// FitOptions tune the hyper-parameter search of Fit.
type FitOptions struct {
	// Restarts is the number of optimiser starts (default 3): the first from
	// Init (or the prior's centre), the others drawn from the prior.
	Restarts int
	// MaxIterations bounds each start's L-BFGS iterations (default 60).
	MaxIterations int
	// Init warm-starts the first start, e.g. with the previous fit's Hyper.
	Init *Hyper
	// Fixed, when set, skips the search and uses these hyper-parameters.
	Fixed *Hyper
}

// The weak log-normal prior keeps hyper-parameters in a sane range when
// there are few observations: log ℓ ~ N(log 0.5, 1.5²) on unit-cube inputs,
// log σ_f² ~ N(0, 1.5²) on standardised outputs, log σ_n² ~ N(log 0.01, 2²).
const (
	priorLogLengthMean = -0.6931471805599453 // log 0.5
	priorLogLengthSD   = 1.5
	priorLogSignalMean = 0
	priorLogSignalSD   = 1.5
	priorLogNoiseMean  = -4.605170185988091 // log 0.01
	priorLogNoiseSD    = 2
	// hyperClamp bounds every log hyper-parameter the search may visit.
	hyperClamp = 12
)

// priorMeans returns the prior's centre as a hyper vector for d dimensions.
func priorMeans(d int) []float64 {
	v := make([]float64, d+2)
	for i := 0; i < d; i++ {
		v[i] = priorLogLengthMean
	}
	v[d], v[d+1] = priorLogSignalMean, priorLogNoiseMean
	return v
}

// priorSDs returns the prior's standard deviations as a hyper vector.
func priorSDs(d int) []float64 {
	v := make([]float64, d+2)
	for i := 0; i < d; i++ {
		v[i] = priorLogLengthSD
	}
	v[d], v[d+1] = priorLogSignalSD, priorLogNoiseSD
	return v
}

// fitHyper maximises log marginal likelihood + log prior over the
// hyper-parameters from several starts and returns the best, with the
// number of starts that failed.
func fitHyper(x [][]float64, y []float64, opts FitOptions, rng *rand.Rand) (Hyper, int, error) {
	d := len(x[0])
	if opts.Fixed != nil {
		if len(opts.Fixed.LogLengthScales) != d {
			return Hyper{}, 0, errors.New("fixed hyper-parameters: wrong number of length-scales")
		}
		return opts.Fixed.Clone(), 0, nil
	}
	restarts := opts.Restarts
	if restarts <= 0 {
		restarts = 3
	}
	iters := opts.MaxIterations
	if iters <= 0 {
		iters = 60
	}
	mu, sd := priorMeans(d), priorSDs(d)
	work := newLMLWork(x, y)
	objective := func(v []float64) (float64, []float64, bool) {
		h := hyperFromVector(v)
		lml, grad, err := work.eval(h, true)
		if err != nil {
			return 0, nil, false
		}
		val := -lml
		g := make([]float64, len(v))
		for i := range v {
			z := (v[i] - mu[i]) / sd[i]
			val += 0.5 * z * z
			g[i] = -grad[i] + z/sd[i]
		}
		return val, g, true
	}
	// gonum asks for the value and then the gradient at the same point;
	// one likelihood evaluation computes both, so the last one is kept.
	var last struct {
		v, g []float64
		f    float64
		ok   bool
	}
	eval := func(v []float64) (float64, []float64, bool) {
		if last.v != nil && slices.Equal(last.v, v) {
			return last.f, last.g, last.ok
		}
		f, g, ok := math.Inf(1), []float64(nil), false
		if !outOfRange(v) {
			f, g, ok = objective(v)
		}
		last.v = append(last.v[:0], v...)
		last.f, last.g, last.ok = f, g, ok
		return f, g, ok
	}
	problem := optimize.Problem{
		Func: func(v []float64) float64 {
			f, _, ok := eval(v)
			if !ok {
				return math.Inf(1)
			}
			return f
		},
		Grad: func(grad, v []float64) {
			_, g, ok := eval(v)
			if !ok {
				clear(grad)
				return
			}
			copy(grad, g)
		},
	}
	best, bestVal, failed := []float64(nil), math.Inf(1), 0
	for s := 0; s < restarts; s++ {
		start := make([]float64, d+2)
		switch {
		case s == 0 && opts.Init != nil && len(opts.Init.LogLengthScales) == d:
			copy(start, opts.Init.vector())
		case s == 0:
			copy(start, mu)
		default:
			for i := range start {
				// Draw within one prior SD so the start is well-conditioned.
				start[i] = mu[i] + sd[i]*(2*rng.Float64()-1)
			}
		}
		if v, _, ok := objective(start); ok && v < bestVal {
			best, bestVal = append([]float64(nil), start...), v
		}
		res, err := optimize.Minimize(problem, start, &optimize.Settings{
			MajorIterations:   iters,
			GradientThreshold: 1e-5,
			Converger:         &optimize.FunctionConverge{Absolute: 1e-6, Iterations: 5},
		}, &optimize.LBFGS{})
		if res == nil || math.IsInf(res.F, 0) || math.IsNaN(res.F) {
			failed++
			continue
		}
		_ = err // a start that stops on an iteration limit still improved
		if res.F < bestVal {
			best, bestVal = append([]float64(nil), res.X...), res.F
		}
	}
	if best == nil {
		return Hyper{}, failed, errors.New("hyper-parameter search: no start gave a finite likelihood")
	}
	return hyperFromVector(best), failed, nil
}

// outOfRange reports whether any log hyper-parameter left [−hyperClamp, hyperClamp].
func outOfRange(v []float64) bool {
	for _, x := range v {
		if math.Abs(x) > hyperClamp || math.IsNaN(x) {
			return true
		}
	}
	return false
}

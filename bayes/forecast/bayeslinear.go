package forecast

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// BayesLinearConfig sets up a BayesLinear forecaster.
type BayesLinearConfig struct {
	// IntervalsPerDay is the number of intervals in a day (default 1440:
	// one-minute intervals).
	IntervalsPerDay int
	// Offset is the interval of the week (0 = Monday 00:00) at which the
	// series starts.
	Offset int
	// Horizon is how many intervals ahead Predict looks (default 1).
	Horizon int
	// Lags are the lags, in intervals before the predicted one, whose
	// counts are features (default 1, 2, 3, 4, 5, 10, 15, 30, 60: recent
	// level and the common timer periods); lags shorter than Horizon are
	// replaced by Horizon.
	Lags []int
	// Window is how many intervals the moving-average feature spans
	// (default 60).
	Window int
	// Forgetting in (0, 1] is the weight an interval keeps per interval
	// (default 0.995: an effective memory of 200 intervals).
	Forgetting float64
	// PriorVariance is the prior variance of each weight relative to the
	// noise (default 1); the prior mean of every weight is zero but the
	// intercept's, which is y for a count of zero: before any data the
	// forecaster expects no arrivals, with wide uncertainty. PriorShape and
	// PriorScale are the inverse-gamma prior of the noise variance
	// (defaults 2 and 0.5).
	PriorVariance, PriorShape, PriorScale float64
}

// BayesLinear is a conjugate Bayesian linear regression (normal-inverse-
// gamma prior) of y = √(count + 3/8) (Anscombe's variance-stabilising
// transform of Poisson counts) on: an intercept; y at each lag; the mean of
// y over a window; sine and cosine of the time of day at one and two cycles
// per day and of the day of the week at one cycle per week. Past intervals
// are weighted down geometrically (Forgetting), always against the full
// prior, so the model follows changes in the workload without losing its
// footing in silences. The predictive of y is a Student t; a count k has
// the probability of y falling in [√(k−½+3/8), √(k+½+3/8)).
//
// Observe adds a rank-one term, O(d²) for d features (d = 16 by default);
// Predict solves a d×d Cholesky, O(d³).
type BayesLinear struct {
	cfg  BayesLinearConfig
	lags []int
	d    int

	t       int       // intervals observed
	history []float64 // y of the last len(history) intervals, ring
	// Forgotten sufficient statistics of the data: Σ w x xᵀ (d×d), Σ w x y,
	// Σ w y², Σ w.
	xx       []float64
	xy       []float64
	yy, wsum float64

	// scratch
	x, chol, tmp []float64
}

// NewBayesLinear returns a BayesLinear at its prior.
func NewBayesLinear(cfg BayesLinearConfig) (*BayesLinear, error) {
	if cfg.IntervalsPerDay == 0 {
		cfg.IntervalsPerDay = 1440
	}
	if cfg.Horizon == 0 {
		cfg.Horizon = 1
	}
	if cfg.Lags == nil {
		cfg.Lags = []int{1, 2, 3, 4, 5, 10, 15, 30, 60}
	}
	if cfg.Window == 0 {
		cfg.Window = 60
	}
	if cfg.Forgetting == 0 {
		cfg.Forgetting = 0.995
	}
	if cfg.PriorVariance == 0 {
		cfg.PriorVariance = 1
	}
	if cfg.PriorShape == 0 {
		cfg.PriorShape = 2
	}
	if cfg.PriorScale == 0 {
		cfg.PriorScale = 0.5
	}
	if cfg.IntervalsPerDay < 1 || cfg.Horizon < 1 || cfg.Window < 1 || !(cfg.Forgetting > 0 && cfg.Forgetting <= 1) ||
		!(cfg.PriorVariance > 0) || !(cfg.PriorShape > 0) || !(cfg.PriorScale > 0) {
		return nil, fmt.Errorf("bayes-linear forecaster: config %+v: want intervals per day, horizon and window ≥ 1, forgetting in (0, 1], prior variance, shape and scale > 0", cfg)
	}
	var lags []int
	for _, l := range cfg.Lags {
		if l < 1 {
			return nil, fmt.Errorf("bayes-linear forecaster: lag %d, want ≥ 1", l)
		}
		lags = append(lags, max(l, cfg.Horizon))
	}
	slices.Sort(lags)
	lags = slices.Compact(lags)
	longest := max(lags[len(lags)-1], cfg.Horizon+cfg.Window-1)
	b := &BayesLinear{cfg: cfg, lags: lags, d: 1 + len(lags) + 1 + 6, history: make([]float64, longest)}
	b.xx = make([]float64, b.d*b.d)
	b.xy = make([]float64, b.d)
	b.x = make([]float64, b.d)
	b.chol = make([]float64, b.d*b.d)
	b.tmp = make([]float64, b.d)
	return b, nil
}

// anscombe is the variance-stabilising transform of a count.
func anscombe(count float64) float64 { return math.Sqrt(count + 0.375) }

// past returns y lag intervals before interval t (the prior mean of y for a
// count of zero when the series is shorter).
func (b *BayesLinear) past(t, lag int) float64 {
	i := t - lag
	if i < 0 {
		return anscombe(0)
	}
	return b.history[i%len(b.history)]
}

// features fills b.x for predicting interval t from the intervals before
// t − Horizon + 1.
func (b *BayesLinear) features(t int) []float64 {
	x := b.x
	x[0] = 1
	k := 1
	for _, l := range b.lags {
		x[k] = b.past(t, l)
		k++
	}
	var sum float64
	for l := b.cfg.Horizon; l < b.cfg.Horizon+b.cfg.Window; l++ {
		sum += b.past(t, l)
	}
	x[k] = sum / float64(b.cfg.Window)
	k++
	at := b.cfg.Offset + t
	day := 2 * math.Pi * float64(at%b.cfg.IntervalsPerDay) / float64(b.cfg.IntervalsPerDay)
	week := 2 * math.Pi * float64(at%(7*b.cfg.IntervalsPerDay)) / float64(7*b.cfg.IntervalsPerDay)
	x[k], x[k+1] = math.Sin(day), math.Cos(day)
	x[k+2], x[k+3] = math.Sin(2*day), math.Cos(2*day)
	x[k+4], x[k+5] = math.Sin(week), math.Cos(week)
	return x
}

// Observe implements Forecaster.
func (b *BayesLinear) Observe(count int) {
	y := anscombe(float64(max(count, 0)))
	x := b.features(b.t)
	lambda := b.cfg.Forgetting
	for i := range b.xx {
		b.xx[i] *= lambda
	}
	for i := 0; i < b.d; i++ {
		row := b.xx[i*b.d : (i+1)*b.d]
		for j := 0; j <= i; j++ {
			row[j] += x[i] * x[j]
		}
		b.xy[i] = lambda*b.xy[i] + x[i]*y
	}
	b.yy = lambda*b.yy + y*y
	b.wsum = lambda*b.wsum + 1
	b.history[b.t%len(b.history)] = y
	b.t++
}

// Predict implements Forecaster.
func (b *BayesLinear) Predict() Predictive {
	d := b.d
	// Posterior precision in units of the noise variance: Λ = Λ0 + Σ w x xᵀ
	// with Λ0 = I / PriorVariance and a zero prior mean.
	for i := 0; i < d; i++ {
		for j := 0; j <= i; j++ {
			b.chol[i*d+j] = b.xx[i*d+j]
		}
		b.chol[i*d+i] += 1 / b.cfg.PriorVariance
	}
	if !choleskyInPlace(b.chol, d) {
		// Cannot happen with a positive prior precision; fall back to the prior.
		return b.prior()
	}
	// m = Λ⁻¹ (Λ0 m0 + Σ w x y); mᵀΛm = |L⁻¹(Λ0 m0 + Σ w x y)|².
	copy(b.tmp, b.xy)
	m0 := anscombe(0)
	b.tmp[0] += m0 / b.cfg.PriorVariance
	forwardSolve(b.chol, d, b.tmp)
	var quad float64
	for _, v := range b.tmp {
		quad += v * v
	}
	backSolve(b.chol, d, b.tmp) // tmp = m
	x := b.features(b.t + b.cfg.Horizon - 1)
	var loc float64
	for i := 0; i < d; i++ {
		loc += x[i] * b.tmp[i]
	}
	copy(b.tmp, x)
	forwardSolve(b.chol, d, b.tmp) // xᵀΛ⁻¹x = |L⁻¹x|²
	var lev float64
	for _, v := range b.tmp {
		lev += v * v
	}
	shape := b.cfg.PriorShape + b.wsum/2
	scale := b.cfg.PriorScale + math.Max(b.yy+m0*m0/b.cfg.PriorVariance-quad, 0)/2
	return AnscombeT{Loc: loc, Scale: math.Sqrt(scale / shape * (1 + lev)), DF: 2 * shape}
}

func (b *BayesLinear) prior() Predictive {
	return AnscombeT{Loc: anscombe(0), Scale: math.Sqrt(b.cfg.PriorScale / b.cfg.PriorShape * (1 + b.cfg.PriorVariance)), DF: 2 * b.cfg.PriorShape}
}

// Horizon implements Forecaster.
func (b *BayesLinear) Horizon() int { return b.cfg.Horizon }

// AnscombeT is the count distribution whose Anscombe transform √(N + 3/8)
// follows a Student t of location Loc, scale Scale and DF degrees of
// freedom: P(N ≤ k) = P(Y < √(k + ½ + 3/8)).
type AnscombeT struct {
	Loc, Scale, DF float64
}

func (a AnscombeT) dist() distuv.StudentsT {
	return distuv.StudentsT{Mu: a.Loc, Sigma: a.Scale, Nu: a.DF}
}

// Mean implements Predictive: E[Y²] − 3/8, at least 0.
func (a AnscombeT) Mean() float64 {
	v := a.Scale * a.Scale
	if a.DF > 2 {
		v *= a.DF / (a.DF - 2)
	}
	return math.Max(a.Loc*a.Loc+v-0.375, 0)
}

// CDF implements Predictive.
func (a AnscombeT) CDF(k int) float64 {
	if k < 0 {
		return 0
	}
	y := anscombe(float64(k) + 0.5)
	if a.DF < 30 {
		return a.dist().CDF(y)
	}
	// From 30 degrees of freedom on, the normal approximation of
	// Abramowitz and Stegun 26.7.8 is within 1e-4 of the t CDF and much
	// cheaper than gonum's incomplete beta in the tails.
	z := (y - a.Loc) / a.Scale
	z = z * (1 - 1/(4*a.DF)) / math.Sqrt(1+z*z/(2*a.DF))
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}

// Quantile implements Predictive. It searches the counts with the CDF,
// starting from the normal approximation of the t quantile (gonum's
// inverse incomplete beta is forty times slower than the few CDF calls).
func (a AnscombeT) Quantile(p float64) int {
	if p <= 0 {
		return 0
	}
	y := a.Loc + a.Scale*math.Sqrt2*math.Erfinv(2*p-1)
	guess := 0
	if y > 0 {
		guess = int(math.Ceil(y*y - 0.875))
	}
	return quantileBySearch(a.CDF, p, max(guess, 1))
}

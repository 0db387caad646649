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

// logMarginal computes the log marginal likelihood and, when withGrad, its
// gradient, for a single evaluation.
func logMarginal(x [][]float64, y []float64, h Hyper, withGrad bool) (float64, []float64, error) {
	return newLMLWork(x, y).eval(h, withGrad)
}

// lmlWork evaluates the log marginal likelihood of one data set many times,
// as a hyper-parameter search does, without allocating per evaluation: the
// squared input differences per dimension are computed once, and K, its
// Cholesky factor, K⁻¹ and the kernel's derivative factor live in flat
// row-major buffers reused by every evaluation (upper triangles only where
// the matrix is symmetric).
type lmlWork struct {
	n, d int
	y    []float64
	sq   [][]float64 // sq[q][i*n+j], j > i: (x_iq − x_jq)²
	// Per evaluation:
	inv2   []float64 // 1/ℓ_q²
	k      []float64 // K_f + σ_n² I (upper)
	common []float64 // σ_f² (5/3)(1 + √5 r) exp(−√5 r) per pair (upper)
	l      []float64 // Cholesky factor L (lower)
	t      []float64 // L⁻¹ (lower)
	kinv   []float64 // K⁻¹ (upper)
	alpha  []float64
	wc     []float64 // the gradient's weights per pair
}

func newLMLWork(x [][]float64, y []float64) *lmlWork {
	n, d := len(x), len(x[0])
	w := &lmlWork{
		n: n, d: d, y: y,
		sq:   make([][]float64, d),
		inv2: make([]float64, d),
		k:    make([]float64, n*n), common: make([]float64, n*n),
		l: make([]float64, n*n), t: make([]float64, n*n), kinv: make([]float64, n*n),
		alpha: make([]float64, n), wc: make([]float64, n*n),
	}
	for q := range d {
		sq := make([]float64, n*n)
		for i := range n {
			for j := i + 1; j < n; j++ {
				diff := x[i][q] - x[j][q]
				sq[i*n+j] = diff * diff
			}
		}
		w.sq[q] = sq
	}
	return w
}

// eval returns the log marginal likelihood at h and, when withGrad, its
// gradient (a fresh slice).
func (w *lmlWork) eval(h Hyper, withGrad bool) (float64, []float64, error) {
	n, d := w.n, w.d
	sf2, sn2 := math.Exp(h.LogSignalVariance), math.Exp(h.LogNoiseVariance)
	for q, l := range h.LogLengthScales {
		w.inv2[q] = math.Exp(-2 * l)
	}
	// r² per pair, accumulated into k, then the kernel and its derivative factor.
	clear(w.k)
	for q := range d {
		s, c := w.sq[q], w.inv2[q]
		for i := range n {
			row, src := w.k[i*n+i+1:i*n+n], s[i*n+i+1:i*n+n]
			for j, v := range src {
				row[j] += v * c
			}
		}
	}
	for i := range n {
		for p := i*n + i + 1; p < i*n+n; p++ {
			r2 := w.k[p]
			r := math.Sqrt(r2)
			e := math.Exp(-sqrt5 * r)
			w.k[p] = sf2 * (1 + sqrt5*r + 5*r2/3) * e
			w.common[p] = sf2 * (5.0 / 3.0) * (1 + sqrt5*r) * e
		}
		w.k[i*n+i] = sf2 + sn2
	}
	if err := w.cholesky(); err != nil {
		return 0, nil, err
	}
	// α = K⁻¹ y by forward and backward substitution.
	copy(w.alpha, w.y)
	for i := range n {
		s := w.alpha[i]
		for j, lij := range w.l[i*n : i*n+i] {
			s -= lij * w.alpha[j]
		}
		w.alpha[i] = s / w.l[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := w.alpha[i]
		for j := i + 1; j < n; j++ {
			s -= w.l[j*n+i] * w.alpha[j]
		}
		w.alpha[i] = s / w.l[i*n+i]
	}
	var fit, logDet float64
	for i, yi := range w.y {
		fit += yi * w.alpha[i]
		logDet += 2 * math.Log(w.l[i*n+i])
	}
	lml := -0.5*fit - 0.5*logDet - 0.5*float64(n)*log2Pi
	if math.IsNaN(lml) || math.IsInf(lml, 0) {
		return 0, nil, errors.New("log marginal likelihood is not finite")
	}
	if !withGrad {
		return lml, nil, nil
	}
	w.inverse()
	// ∂/∂θ = ½ Σ_ij W_ij ∂K_ij/∂θ with W = ααᵀ − K⁻¹, summed over the upper
	// triangle (off-diagonal terms twice).
	grad := make([]float64, d+2)
	var gSignal, trW float64
	for i := range n {
		wii := w.alpha[i]*w.alpha[i] - w.kinv[i*n+i]
		trW += wii
		gSignal += wii * sf2
		for p := i*n + i + 1; p < i*n+n; p++ {
			wij := 2 * (w.alpha[i]*w.alpha[p-i*n] - w.kinv[p])
			gSignal += wij * w.k[p]
			w.wc[p] = wij * w.common[p]
		}
	}
	for q := range d {
		var g float64
		s := w.sq[q]
		for i := range n {
			for p := i*n + i + 1; p < i*n+n; p++ {
				g += w.wc[p] * s[p]
			}
		}
		grad[q] = 0.5 * g * w.inv2[q]
	}
	grad[d] = 0.5 * gSignal
	grad[d+1] = 0.5 * sn2 * trW
	return lml, grad, nil
}

// cholesky factors K (upper triangle of w.k) into w.l, adding a jitter to
// the diagonal when K is not numerically positive definite, as factorize
// does.
func (w *lmlWork) cholesky() error {
	n := w.n
	var meanDiag float64
	for i := range n {
		meanDiag += w.k[i*n+i]
	}
	meanDiag /= float64(n)
	if !(meanDiag > 0) {
		meanDiag = 1
	}
	jitter := 0.0
	for try := 0; try <= maxJitterTries; try++ {
		if w.tryCholesky(jitter) {
			return nil
		}
		if jitter == 0 {
			jitter = 1e-10 * meanDiag
		} else {
			jitter *= 10
		}
	}
	return fmt.Errorf("factorize %d×%d: %w", n, n, errNotPositiveDefinite)
}

// tryCholesky computes L row by row (L_ij = (K_ij − L_i·L_j)/L_jj over the
// first j columns); false when a pivot is not positive.
func (w *lmlWork) tryCholesky(jitter float64) bool {
	n, l := w.n, w.l
	for i := range n {
		li := l[i*n : i*n+n]
		for j := 0; j <= i; j++ {
			lj := l[j*n : j*n+j]
			var s float64
			if j == i {
				s = w.k[i*n+i] + jitter
			} else {
				s = w.k[j*n+i] // upper triangle holds K_ji = K_ij
			}
			for m, v := range lj {
				s -= li[m] * v
			}
			if j == i {
				if !(s > 0) {
					return false
				}
				li[i] = math.Sqrt(s)
				continue
			}
			li[j] = s / l[j*n+j]
		}
	}
	return true
}

// inverse computes K⁻¹ = L⁻ᵀ L⁻¹ into the upper triangle of w.kinv: first
// T = L⁻¹ by forward substitution, then K⁻¹_ij = Σ_m T_mi T_mj.
func (w *lmlWork) inverse() {
	n, l, t := w.n, w.l, w.t
	for j := range n {
		t[j*n+j] = 1 / l[j*n+j]
		for i := j + 1; i < n; i++ {
			var s float64
			for m := j; m < i; m++ {
				s += l[i*n+m] * t[m*n+j]
			}
			t[i*n+j] = -s / l[i*n+i]
		}
	}
	clear(w.kinv)
	for m := range n {
		tm := t[m*n : m*n+m+1]
		for i, a := range tm {
			row := w.kinv[i*n+i : i*n+m+1]
			for j, b := range tm[i:] {
				row[j] += a * b
			}
		}
	}
}

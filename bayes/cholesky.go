package bayes

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// errNotPositiveDefinite says a covariance stayed ill-conditioned even with
// the largest jitter tried.
var errNotPositiveDefinite = errors.New("covariance matrix not positive definite even with jitter")

// maxJitterTries bounds how often the jitter grows (by 10× each time).
const maxJitterTries = 10

// factor is a Cholesky factorisation K + jitter·I = L Lᵀ.
type factor struct {
	chol   mat.Cholesky
	n      int
	lower  []float64 // L row-major, n×n, for fast triangular solves
	jitter float64   // what had to be added to the diagonal (0 if nothing)
}

// factorize factors the symmetric matrix k (row-major n×n). When it is not
// numerically positive definite it adds a jitter to the diagonal, starting at
// 1e-10 times the mean diagonal and growing tenfold, up to maxJitterTries.
func factorize(k []float64, n int) (*factor, error) {
	var meanDiag float64
	for i := 0; i < n; i++ {
		meanDiag += k[i*n+i]
	}
	meanDiag /= float64(n)
	if !(meanDiag > 0) {
		meanDiag = 1
	}
	f := &factor{n: n}
	sym := mat.NewSymDense(n, nil)
	jitter := 0.0
	for try := 0; try <= maxJitterTries; try++ {
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				v := k[i*n+j]
				if i == j {
					v += jitter
				}
				sym.SetSym(i, j, v)
			}
		}
		if f.chol.Factorize(sym) {
			f.jitter = jitter
			var l mat.TriDense
			f.chol.LTo(&l)
			f.lower = make([]float64, n*n)
			for i := 0; i < n; i++ {
				for j := 0; j <= i; j++ {
					f.lower[i*n+j] = l.At(i, j)
				}
			}
			return f, nil
		}
		if jitter == 0 {
			jitter = 1e-10 * meanDiag
		} else {
			jitter *= 10
		}
	}
	return nil, fmt.Errorf("factorize %d×%d: %w", n, n, errNotPositiveDefinite)
}

// forward solves L v = b in place (b becomes v).
func (f *factor) forward(b []float64) {
	n, l := f.n, f.lower
	for i := 0; i < n; i++ {
		s := b[i]
		row := l[i*n : i*n+i]
		for j, lij := range row {
			s -= lij * b[j]
		}
		b[i] = s / l[i*n+i]
	}
}

// backward solves Lᵀ v = b in place.
func (f *factor) backward(b []float64) {
	n, l := f.n, f.lower
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for j := i + 1; j < n; j++ {
			s -= l[j*n+i] * b[j]
		}
		b[i] = s / l[i*n+i]
	}
}

// solve returns (L Lᵀ)⁻¹ b.
func (f *factor) solve(b []float64) []float64 {
	v := append([]float64(nil), b...)
	f.forward(v)
	f.backward(v)
	return v
}

// inverse returns (L Lᵀ)⁻¹ row-major.
func (f *factor) inverse() ([]float64, error) {
	var inv mat.SymDense
	if err := f.chol.InverseTo(&inv); err != nil {
		return nil, fmt.Errorf("invert covariance: %w", err)
	}
	n := f.n
	out := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			out[i*n+j] = inv.At(i, j)
		}
	}
	return out, nil
}

// logDet returns log det(L Lᵀ).
func (f *factor) logDet() float64 { return f.chol.LogDet() }

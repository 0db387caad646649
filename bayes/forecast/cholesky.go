package forecast

import "math"

// choleskyInPlace overwrites the lower triangle of the d×d row-major
// symmetric matrix a with L, a = L Lᵀ; it reports false when a is not
// positive definite. The upper triangle is not read.
func choleskyInPlace(a []float64, d int) bool {
	for j := 0; j < d; j++ {
		s := a[j*d+j]
		for k := 0; k < j; k++ {
			s -= a[j*d+k] * a[j*d+k]
		}
		if !(s > 0) {
			return false
		}
		ljj := math.Sqrt(s)
		a[j*d+j] = ljj
		for i := j + 1; i < d; i++ {
			s := a[i*d+j]
			for k := 0; k < j; k++ {
				s -= a[i*d+k] * a[j*d+k]
			}
			a[i*d+j] = s / ljj
		}
	}
	return true
}

// forwardSolve overwrites b with L⁻¹b.
func forwardSolve(l []float64, d int, b []float64) {
	for i := 0; i < d; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i*d+k] * b[k]
		}
		b[i] = s / l[i*d+i]
	}
}

// backSolve overwrites b with L⁻ᵀb.
func backSolve(l []float64, d int, b []float64) {
	for i := d - 1; i >= 0; i-- {
		s := b[i]
		for k := i + 1; k < d; k++ {
			s -= l[k*d+i] * b[k]
		}
		b[i] = s / l[i*d+i]
	}
}

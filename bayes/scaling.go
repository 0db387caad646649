package bayes

import (
	"fmt"
	"math"
)

// Interval is a closed range [Lo, Hi] of one input dimension.
type Interval struct {
	Lo, Hi float64
}

// unitScaler maps inputs from their intervals to the unit cube.
type unitScaler struct {
	lo, width []float64
}

// newUnitScaler checks the intervals and builds the scaler; a zero-width
// interval maps everything to 0.
func newUnitScaler(bounds []Interval) (unitScaler, error) {
	s := unitScaler{lo: make([]float64, len(bounds)), width: make([]float64, len(bounds))}
	for i, b := range bounds {
		if math.IsNaN(b.Lo) || math.IsNaN(b.Hi) || math.IsInf(b.Lo, 0) || math.IsInf(b.Hi, 0) || b.Hi < b.Lo {
			return unitScaler{}, fmt.Errorf("dimension %d: invalid interval [%g, %g]", i, b.Lo, b.Hi)
		}
		s.lo[i], s.width[i] = b.Lo, b.Hi-b.Lo
	}
	return s, nil
}

// scale writes x mapped to the unit cube into dst and returns it.
func (s unitScaler) scale(dst, x []float64) []float64 {
	for i := range x {
		if s.width[i] == 0 {
			dst[i] = 0
			continue
		}
		dst[i] = (x[i] - s.lo[i]) / s.width[i]
	}
	return dst
}

// standardiser maps outputs to mean 0 and standard deviation 1.
type standardiser struct {
	mean, sd float64
}

// newStandardiser computes the mean and standard deviation of y; a constant
// y gets sd 1 so it maps to zeros.
func newStandardiser(y []float64) standardiser {
	var m float64
	for _, v := range y {
		m += v
	}
	m /= float64(len(y))
	var ss float64
	for _, v := range y {
		ss += (v - m) * (v - m)
	}
	sd := math.Sqrt(ss / float64(len(y)))
	if sd < 1e-12*math.Max(1, math.Abs(m)) {
		sd = 1
	}
	return standardiser{mean: m, sd: sd}
}

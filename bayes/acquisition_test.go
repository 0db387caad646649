package bayes

import (
	"math"
	"testing"
)

// TestExpectedImprovementFormula compares EI with its formula's known values
// and with a numerical integral of E[max(best − Y, 0)].
func TestExpectedImprovementFormula(t *testing.T) {
	for _, tc := range []struct {
		name             string
		mean, sd, best   float64
		want             float64
		checkIntegration bool
	}{
		{"at the incumbent", 0, 1, 0, 1 / math.Sqrt(2*math.Pi), true},
		{"no uncertainty, better", 1, 0, 3, 2, false},
		{"no uncertainty, worse", 3, 0, 1, 0, false},
		{"one sd better", -1, 1, 0, 1*NormalCDF(1) + NormalPDF(1), true},
		{"far worse", 10, 1, 0, -1, true},
		{"wide", 2, 3, 1, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ExpectedImprovement(tc.mean, tc.sd, tc.best)
			if tc.want >= 0 && math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("EI = %.15f, want %.15f", got, tc.want)
			}
			if tc.checkIntegration {
				// Trapezoid over ±12 sd.
				const steps = 200000
				lo, hi := tc.mean-12*tc.sd, tc.mean+12*tc.sd
				dx := (hi - lo) / steps
				var s float64
				for i := 0; i <= steps; i++ {
					y := lo + float64(i)*dx
					w := 1.0
					if i == 0 || i == steps {
						w = 0.5
					}
					s += w * math.Max(tc.best-y, 0) * NormalPDF((y-tc.mean)/tc.sd) / tc.sd
				}
				s *= dx
				if math.Abs(got-s) > 1e-7 {
					t.Errorf("EI = %.10f, integral %.10f", got, s)
				}
			}
		})
	}
}

func TestConstrainedEI(t *testing.T) {
	ei := ExpectedImprovement(1, 0.5, 1.2)
	p := ProbabilityBelow(2, 0.4, 2.3)
	if got := ConstrainedEI(1, 0.5, 1.2, 2, 0.4, 2.3); math.Abs(got-ei*p) > 1e-15 {
		t.Errorf("ConstrainedEI = %g, want EI·P = %g", got, ei*p)
	}
	if p := ProbabilityBelow(0, 1, 0); math.Abs(p-0.5) > 1e-15 {
		t.Errorf("P(Y ≤ mean) = %g, want 0.5", p)
	}
	if ProbabilityBelow(1, 0, 0.5) != 0 || ProbabilityBelow(0.5, 0, 1) != 1 {
		t.Error("ProbabilityBelow without uncertainty is not a step")
	}
}

package forecast

import (
	"math"
	"testing"
)

func TestPredictiveQuantileConsistent(t *testing.T) {
	preds := []struct {
		name string
		p    Predictive
	}{
		{"nb small", NegativeBinomial{Shape: 0.3, P: 0.9}},
		{"nb large", NegativeBinomial{Shape: 40, P: 0.4}},
		{"t narrow", AnscombeT{Loc: 3, Scale: 0.2, DF: 200}},
		{"t wide few df", AnscombeT{Loc: 1, Scale: 2, DF: 4}},
		{"t near zero", AnscombeT{Loc: 0.61, Scale: 0.05, DF: 100}},
	}
	for _, tt := range preds {
		t.Run(tt.name, func(t *testing.T) {
			for _, q := range []float64{0.05, 0.5, 0.9, 0.95, 0.99} {
				k := tt.p.Quantile(q)
				if tt.p.CDF(k) < q || (k > 0 && tt.p.CDF(k-1) >= q) {
					t.Errorf("Quantile(%v) = %d: CDF(k) = %v, CDF(k-1) = %v", q, k, tt.p.CDF(k), tt.p.CDF(k-1))
				}
			}
			if tt.p.CDF(-1) != 0 {
				t.Error("CDF(-1) ≠ 0")
			}
		})
	}
}

func TestNegativeBinomialCDFBySum(t *testing.T) {
	nb := NegativeBinomial{Shape: 2.5, P: 0.3}
	var sum float64
	for k := 0; k < 30; k++ {
		lg1, _ := math.Lgamma(float64(k) + nb.Shape)
		lg2, _ := math.Lgamma(nb.Shape)
		lg3, _ := math.Lgamma(float64(k) + 1)
		sum += math.Exp(lg1 - lg2 - lg3 + nb.Shape*math.Log(nb.P) + float64(k)*math.Log(1-nb.P))
		if got := nb.CDF(k); math.Abs(got-sum) > 1e-9 {
			t.Fatalf("CDF(%d) = %v, want %v", k, got, sum)
		}
	}
	if m := nb.Mean(); math.Abs(m-2.5*0.7/0.3) > 1e-12 {
		t.Errorf("mean %v", m)
	}
}

func TestForecastersLearn(t *testing.T) {
	// A steady 20 per interval and a timer firing every 15 intervals.
	steady := make([]int, 600)
	timer := make([]int, 660)
	for i := range timer {
		if i < len(steady) {
			steady[i] = 20
		}
		if i%15 == 4 {
			timer[i] = 1
		}
	}
	tests := []struct {
		name   string
		f      func() Forecaster
		counts []int
		check  func(p Predictive) bool
	}{
		{"bayes-linear steady", func() Forecaster { f, _ := NewBayesLinear(BayesLinearConfig{}); return f }, steady,
			func(p Predictive) bool {
				return math.Abs(p.Mean()-20) < 1 && p.Quantile(0.05) >= 17 && p.Quantile(0.95) <= 23
			}},
		{"gamma-poisson steady", func() Forecaster { f, _ := NewGammaPoisson(GammaPoissonConfig{}); return f }, steady,
			func(p Predictive) bool { return math.Abs(p.Mean()-20) < 1 }},
		// After 600 intervals the next one (600 % 15 = 0) is not a firing:
		// the lag-15 feature should tell the regression so.
		{"bayes-linear timer off", func() Forecaster { f, _ := NewBayesLinear(BayesLinearConfig{}); return f }, timer[:600],
			func(p Predictive) bool { return p.CDF(0) > 0.95 }},
		{"bayes-linear timer on", func() Forecaster { f, _ := NewBayesLinear(BayesLinearConfig{}); return f }, timer[:604],
			func(p Predictive) bool { return p.CDF(0) < 0.5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f()
			for _, c := range tt.counts {
				f.Observe(c)
			}
			p := f.Predict()
			if !tt.check(p) {
				t.Errorf("predictive %+v: mean %.3f, CDF(0) %.3f, 5%%-95%% [%d, %d]", p, p.Mean(), p.CDF(0), p.Quantile(0.05), p.Quantile(0.95))
			}
		})
	}
}

func TestScoreCalibratedPoisson(t *testing.T) {
	// A fixed Poisson(3) forecast scored on counts drawn exactly at its
	// quantiles: PIT coverage of the 90% interval is 0.9 by construction.
	p := NegativeBinomial{Shape: 1e6, P: 1e6 / (1e6 + 3)} // ≈ Poisson(3)
	var counts []int
	for i := 0; i < 1000; i++ {
		counts = append(counts, p.Quantile((float64(i)+0.5)/1000))
	}
	s := Score(fixedForecaster{p}, counts, 0)
	if math.Abs(s.Coverage90-0.9) > 0.02 || s.Points != 1000 {
		t.Errorf("coverage %.3f over %d points, want 0.9 over 1000", s.Coverage90, s.Points)
	}
}

type fixedForecaster struct{ p Predictive }

func (f fixedForecaster) Observe(int)         {}
func (f fixedForecaster) Predict() Predictive { return f.p }
func (f fixedForecaster) Horizon() int        { return 1 }

func TestConfigErrors(t *testing.T) {
	if _, err := NewBayesLinear(BayesLinearConfig{Forgetting: 1.5}); err == nil {
		t.Error("forgetting 1.5 accepted")
	}
	if _, err := NewBayesLinear(BayesLinearConfig{Lags: []int{0}}); err == nil {
		t.Error("lag 0 accepted")
	}
	if _, err := NewGammaPoisson(GammaPoissonConfig{Discount: -1}); err == nil {
		t.Error("discount -1 accepted")
	}
}

func TestCholeskySolve(t *testing.T) {
	a := []float64{4, 2, 0.4, 2, 5, 1, 0.4, 1, 3}
	l := append([]float64(nil), a...)
	if !choleskyInPlace(l, 3) {
		t.Fatal("not positive definite")
	}
	b := []float64{1, 2, 3}
	x := append([]float64(nil), b...)
	forwardSolve(l, 3, x)
	backSolve(l, 3, x)
	for i := 0; i < 3; i++ {
		var s float64
		for j := 0; j < 3; j++ {
			s += a[i*3+j] * x[j]
		}
		if math.Abs(s-b[i]) > 1e-12 {
			t.Errorf("row %d: %v, want %v", i, s, b[i])
		}
	}
	if choleskyInPlace([]float64{1, 2, 2, 1}, 2) {
		t.Error("indefinite matrix factorised")
	}
}

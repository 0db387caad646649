package forecast

import "testing"

func benchSeries(n int) []int {
	c := make([]int, n)
	for i := range c {
		c[i] = (i * 7919) % 5
	}
	return c
}

func BenchmarkBayesLinearStep(b *testing.B) {
	f, _ := NewBayesLinear(BayesLinearConfig{Horizon: 2})
	c := benchSeries(1440)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Observe(c[i%len(c)])
		_ = f.Predict()
	}
}

func BenchmarkAnscombeTQuantile(b *testing.B) {
	p := AnscombeT{Loc: 1.5, Scale: 0.6, DF: 30}
	for i := 0; i < b.N; i++ {
		_ = p.Quantile(0.95)
	}
}

func BenchmarkAnscombeTCDF(b *testing.B) {
	p := AnscombeT{Loc: 1.5, Scale: 0.6, DF: 30}
	for i := 0; i < b.N; i++ {
		_ = p.CDF(3)
	}
}

func BenchmarkGammaPoissonStep(b *testing.B) {
	f, _ := NewGammaPoisson(GammaPoissonConfig{Horizon: 2})
	c := benchSeries(1440)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Observe(c[i%len(c)])
		_ = f.Predict().Quantile(0.95)
	}
}

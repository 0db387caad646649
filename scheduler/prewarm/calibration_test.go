package prewarm

import (
	"testing"
	"time"

	"baton.dev/baton/bayes/forecast"
	"baton.dev/baton/scheduler/trace"
)

// TestForecastCalibration checks, on held-out synthetic trace data (a seed
// used for nothing else), that the forecaster aquatope uses is calibrated:
// its central 90% predictive intervals cover 85-95% of the per-minute
// counts, counted for discrete counts by the randomised PIT (see
// forecast.Score). It logs the comparison with the gamma-Poisson baseline
// behind the choice of forecaster.
func TestForecastCalibration(t *testing.T) {
	tr, err := trace.Synthetic(trace.SyntheticOptions{Functions: 150, Minutes: 1440, Seed: 20240607})
	if err != nil {
		t.Fatal(err)
	}
	models := []struct {
		name string
		make func() forecast.Forecaster
	}{
		{"bayes-linear", func() forecast.Forecaster {
			f, _ := forecast.NewBayesLinear(forecast.BayesLinearConfig{Horizon: 2})
			return f
		}},
		{"gamma-poisson", func() forecast.Forecaster {
			f, _ := forecast.NewGammaPoisson(forecast.GammaPoissonConfig{Horizon: 2})
			return f
		}},
	}
	classes := []struct {
		name   string
		member func(f *trace.Function) bool
	}{
		{"all", func(*trace.Function) bool { return true }},
		{"hot (≥ 2/min)", func(f *trace.Function) bool { return len(f.Invocations) > 2*1440 }},
		{"timer", func(f *trace.Function) bool { return f.Trigger == "timer" }},
	}
	for _, m := range models {
		for _, c := range classes {
			var sum forecast.Scores
			n := 0
			start := time.Now()
			for i := range tr.Functions {
				f := &tr.Functions[i]
				if !c.member(f) {
					continue
				}
				s := forecast.Score(m.make(), f.Counts(tr.Minutes), 120)
				sum.LogScore += s.LogScore
				sum.Coverage90 += s.Coverage90
				sum.IntervalCoverage90 += s.IntervalCoverage90
				n++
			}
			perStep := time.Since(start) / time.Duration(max(n*tr.Minutes, 1))
			cov := sum.Coverage90 / float64(n)
			t.Logf("%-13s %-14s functions %3d  log score %7.3f  PIT coverage of 90%% intervals %.3f  plain interval coverage %.3f  %v per step",
				m.name, c.name, n, sum.LogScore/float64(n), cov, sum.IntervalCoverage90/float64(n), perStep)
			if m.name == "bayes-linear" && (cov < 0.85 || cov > 0.95) {
				t.Errorf("%s on %s: 90%% intervals cover %.3f, want 0.85-0.95", m.name, c.name, cov)
			}
		}
	}
}

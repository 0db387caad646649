package prewarm

import (
	"fmt"
	"time"

	"baton.dev/baton/bayes/forecast"
)

// Aquatope sizes each function's warm pool from an upper quantile of its
// predicted concurrency (after Aquatope, ASPLOS'23): a Bayesian forecaster
// (forecast.BayesLinear) gives the predictive distribution of the next
// interval's arrivals, its Quantile-th quantile times the mean duration
// over the interval is the concurrency to cover, and that floor is put in
// force the function's cold start before the interval begins. Idle
// sandboxes above the floor are kept KeepAlive, which bridges the interval
// the forecaster has not seen yet. With Chain, a workflow's downstream
// stages are warmed just in time when it starts.
type Aquatope struct {
	// Quantile is the predictive quantile of arrivals the floor covers
	// (default 0.95).
	Quantile float64
	// KeepAlive is the keep-alive above the floor (default 5 minutes:
	// chosen on the synthetic trace, where it had fewer cold starts and
	// fewer idle sandbox-seconds than keepalive-10m and hybrid-histogram
	// on two seeds; 2 minutes left bursts inside an interval cold).
	KeepAlive time.Duration
	// Chain turns on workflow-aware chain warming.
	Chain bool
	// Forecast overrides the forecaster's settings; Horizon is always 2
	// (see Planner: interval i is planned before interval i−1 is over).
	Forecast forecast.BayesLinearConfig
}

// Name implements PrewarmPolicy.
func (a Aquatope) Name() string {
	if a.Chain {
		return "aquatope"
	}
	return "aquatope-nochain"
}

// ChainWarming implements PrewarmPolicy.
func (a Aquatope) ChainWarming() bool { return a.Chain }

// NewPlanner implements PrewarmPolicy.
func (a Aquatope) NewPlanner(f Function) (Planner, error) {
	if a.Quantile == 0 {
		a.Quantile = 0.95
	}
	if a.KeepAlive == 0 {
		a.KeepAlive = 5 * time.Minute
	}
	if !(a.Quantile > 0 && a.Quantile < 1) || a.KeepAlive < 0 {
		return nil, fmt.Errorf("aquatope policy for %s: quantile %v, keep-alive %v: want a quantile in (0, 1) and a keep-alive ≥ 0", f.Name, a.Quantile, a.KeepAlive)
	}
	cfg := a.Forecast
	cfg.Horizon = 2
	if cfg.IntervalsPerDay == 0 {
		cfg.IntervalsPerDay = int(24 * time.Hour / intervalOrMinute(f))
	}
	fc, err := forecast.NewBayesLinear(cfg)
	if err != nil {
		return nil, fmt.Errorf("aquatope policy for %s: %w", f.Name, err)
	}
	return &aquatopePlanner{cfg: a, f: f, forecaster: fc}, nil
}

type aquatopePlanner struct {
	cfg        Aquatope
	f          Function
	forecaster *forecast.BayesLinear
	observed   int  // intervals observed
	called     bool // an interval with arrivals has been observed
}

// Observe feeds the forecaster; a skipped interval counts as no arrivals.
func (p *aquatopePlanner) Observe(i, arrivals int) {
	for p.observed < i {
		p.forecaster.Observe(0)
		p.observed++
	}
	if i == p.observed {
		p.forecaster.Observe(arrivals)
		p.observed++
		p.called = p.called || arrivals > 0
	}
}

// Plan forecasts interval i two intervals after the last observed one. A
// function never called keeps no floor: the prior alone (wide, since
// nothing is known) would otherwise warm a sandbox for every function as
// soon as it is deployed, most of which are rarely called.
func (p *aquatopePlanner) Plan(int) Decision {
	if !p.called {
		return Decision{KeepAlive: p.cfg.KeepAlive}
	}
	q := p.forecaster.Predict().Quantile(p.cfg.Quantile)
	return Decision{Floor: floorFor(float64(q), p.f), KeepAlive: p.cfg.KeepAlive}
}

func (p *aquatopePlanner) Lead() time.Duration { return p.f.ColdStart }

// SetTimes implements Timed: live, the floor follows the measured mean
// duration and the lead the measured cold start.
func (p *aquatopePlanner) SetTimes(coldStart, meanDuration time.Duration) {
	p.f.ColdStart, p.f.MeanDuration = coldStart, meanDuration
}

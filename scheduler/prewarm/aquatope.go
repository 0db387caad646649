package prewarm

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"baton.dev/baton/bayes/forecast"
)

// Aquatope sizes each function's warm pool from an upper quantile of its
// predicted concurrency (after Aquatope, ASPLOS'23): a Bayesian forecaster
// (forecast.BayesLinear) gives the predictive distribution of the next
// interval's arrivals; at its Quantile-th quantile, the calls in flight at
// an instant of the interval are Poisson with mean arrivals × mean
// duration / interval, and the floor is that Poisson's Concurrency-th
// quantile (concurrencyFloor), put in force the function's cold start
// before the interval begins. Idle sandboxes above the floor are kept
// KeepAlive. With Chain, a workflow's downstream stages are warmed just in
// time when it starts.
type Aquatope struct {
	// Quantile is the predictive quantile of arrivals the floor covers
	// (default AquatopeQuantile).
	Quantile float64
	// Concurrency is the quantile of the calls in flight at an instant
	// that the floor covers (default 0.99).
	Concurrency float64
	// KeepAlive is the keep-alive above the floor (default
	// AquatopeKeepAlive).
	KeepAlive time.Duration
	// ColdStartCost is the idle sandbox-time a cold start is worth: with
	// it, the first sandbox of a function follows the window of its idle
	// times that costs least at that price (idleWindow: kept after a call
	// as long as the next call is likely enough, or unloaded at once and
	// warmed just before the next call of a timer-like function) instead
	// of the forecast, whose floor then counts only from two sandboxes up
	// (the concurrency of busy functions). Zero leaves the first sandbox
	// to the forecast (aquatope-c0); New's aquatope has
	// AquatopeColdStartCost.
	ColdStartCost time.Duration
	// Chain turns on workflow-aware chain warming.
	Chain bool
	// QoSAware takes a workflow function's settings (Quantile, KeepAlive,
	// ColdStartCost, Concurrency) from its workflow's QoS (Function.QoS, see PlanQoS)
	// and chain-warms only the stages the plan says (ChainWarmsStage);
	// with an allowed cold share (FunctionQoS.AllowedCold), the planner
	// meets it at the least idle instead (planAllowedCold). Functions
	// outside workflows keep the settings above.
	QoSAware bool
	// Forecast overrides the forecaster's settings; Horizon is always 2
	// (see Planner: interval i is planned before interval i−1 is over).
	Forecast forecast.BayesLinearConfig

	// allowedCold, batch and chainHold are a QoS-aware function's
	// FunctionQoS AllowedCold, Batch and ChainHold, missShare its
	// AllowedColdArrivals per call (see settingsFor).
	allowedCold, missShare float64
	batch                  int
	chainHold              time.Duration
	// shared keeps the allowed-cold choices for all the policy's planners
	// (nil: each planner keeps its own; New's QoS-aware policy has one).
	shared *choiceCache
}

// The settings of New's aquatope. Chosen on the synthetic trace (1,000
// functions, 24 hours, seed 1), where with a 0.99 concurrency quantile
// they had 0.296% cold starts and 78.6 M idle sandbox-seconds, 0.87× the
// keepalive frontier's idle at that cold-start rate (keepalive-10m:
// 0.294%, 90.9 M); the earlier settings (a 2-minute keep-alive, the
// 0.95 quantile, no cold-start cost) had 0.255% and 88.5 M, 0.94×; with
// the cost, 2-minute and 0.95 had 0.311% and 77.8 M (0.87×), 5-minute
// and 0.95 0.235% and 86.3 M (0.91×), 5-minute and 0.8 0.272% and 81.1 M
// (0.88×). With the cold-start cost, the arrival quantile only sizes
// floors of two and more: the median forecast with a 0.99 quantile of
// the calls in flight still covers the concurrency's upper tail.
// On the heavy trace (baton sim trace: 1,000 functions, all called 10,000
// times a day or more, 220.6 M invocations) they had 0.100% and 719 M,
// 1.04× the keepalive frontier there (keepalive-10m: 0.076%, 767 M); the
// earlier settings 0.045% and 1,316 M (1.4×): the 0.95 quantile's floors
// are dear on hot functions whose counts swing from minute to minute.
const (
	AquatopeKeepAlive     = 5 * time.Minute
	AquatopeQuantile      = 0.5
	AquatopeColdStartCost = 10 * time.Minute
)

// defaultConcurrency is the default quantile of the calls in flight that
// aquatope's and the oracle's floors cover.
const defaultConcurrency = 0.99

// Name implements PrewarmPolicy: aquatope (aquatope-nochain without
// chain warming), followed by its keep-alive, floor quantile and
// cold-start cost where they are not New's (aquatope-1m-q0.8-c20m; see
// New).
func (a Aquatope) Name() string {
	name := "aquatope"
	if a.QoSAware {
		name += "-qos"
	}
	if !a.Chain {
		name += "-nochain"
	}
	if a.KeepAlive != 0 && a.KeepAlive != AquatopeKeepAlive {
		name += "-" + shortDuration(a.KeepAlive)
	}
	if a.Quantile != 0 && a.Quantile != AquatopeQuantile {
		name += "-q" + strconv.FormatFloat(a.Quantile, 'f', -1, 64)
	}
	if a.ColdStartCost != AquatopeColdStartCost {
		name += "-c" + shortDuration(a.ColdStartCost)
	}
	return name
}

// ChainWarming implements PrewarmPolicy.
func (a Aquatope) ChainWarming() bool { return a.Chain }

// NewPlanner implements PrewarmPolicy.
func (a Aquatope) NewPlanner(f Function) (Planner, error) {
	a, err := a.settingsFor(f.Name, f.QoS)
	if err != nil {
		return nil, err
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
	p := &aquatopePlanner{cfg: a, f: f, forecaster: fc}
	p.setColdStartCost(a.ColdStartCost)
	p.setAllowedCold(a.allowedCold, a.missShare, a.batch)
	return p, nil
}

// settingsFor returns a's settings for function name: under a QoS-aware
// policy those of q when there is one, the defaults for those unset.
func (a Aquatope) settingsFor(name string, q *FunctionQoS) (Aquatope, error) {
	if a.QoSAware && q != nil {
		a.Quantile, a.KeepAlive, a.ColdStartCost, a.Concurrency = q.Quantile, q.KeepAlive, q.ColdStartCost, q.Concurrency
		a.allowedCold, a.batch, a.chainHold = q.AllowedCold, q.Batch, q.ChainHold
		a.missShare = 0
		if q.AllowedCold > 0 {
			a.missShare = q.AllowedColdArrivals / float64(max(q.Calls, 1))
		}
	}
	if a.Quantile == 0 {
		a.Quantile = AquatopeQuantile
	}
	if a.Concurrency == 0 {
		a.Concurrency = defaultConcurrency
	}
	if a.KeepAlive == 0 {
		a.KeepAlive = AquatopeKeepAlive
	}
	if !(a.Quantile > 0 && a.Quantile < 1) || !(a.Concurrency > 0 && a.Concurrency < 1) || a.KeepAlive < 0 || a.ColdStartCost < 0 || !(a.allowedCold >= 0 && a.allowedCold <= 1) || !(a.missShare >= 0 && a.missShare <= 1) || a.batch < 0 {
		return a, fmt.Errorf("aquatope policy for %s: quantile %v, concurrency quantile %v, keep-alive %v, cold-start cost %v, allowed cold shares %v and %v, batch %d: want both quantiles in (0, 1), a keep-alive and a cost ≥ 0, shares in [0, 1] and a batch ≥ 0",
			name, a.Quantile, a.Concurrency, a.KeepAlive, a.ColdStartCost, a.allowedCold, a.missShare, a.batch)
	}
	return a, nil
}

// setColdStartCost sets the idle window's price of a cold start, making
// the window if there is none (a cost of zero keeps one made before).
func (p *aquatopePlanner) setColdStartCost(c time.Duration) {
	p.cfg.ColdStartCost = c
	interval := intervalOrMinute(p.f)
	switch {
	case p.window != nil:
		if c > 0 {
			p.window.setChoice(float64(c)/float64(interval), p.window.missShare)
		}
	case c > 0:
		bins := min(max(int(idleWindowRange/interval), 1), idleWindowMaxBins)
		p.window = newIdleWindow(bins, float64(c)/float64(interval))
	}
}

// SetQoS implements QoSSettable: a QoS-aware planner takes new settings
// from its workflow's QoS plan and keeps what it has learnt (the
// forecaster's and the idle window's observations).
// Settings that are not valid are ignored.
func (p *aquatopePlanner) SetQoS(q *FunctionQoS) {
	a, err := p.cfg.settingsFor(p.f.Name, q)
	if err != nil || !p.cfg.QoSAware || q == nil {
		return
	}
	p.cfg.Quantile, p.cfg.KeepAlive, p.cfg.Concurrency, p.cfg.chainHold = a.Quantile, a.KeepAlive, a.Concurrency, a.chainHold
	p.setColdStartCost(a.ColdStartCost)
	p.setAllowedCold(a.allowedCold, a.missShare, a.batch)
}

// setAllowedCold sets the share of calls that may find no warm sandbox,
// that of calls the idle window may miss (cold arrivals, see
// FunctionQoS.AllowedColdArrivals and idleWindow.missShare) and the calls
// sent at once: the floor and keep-alive keep the other cold starts within
// the first (coldFractionChoice). A share of zero plans by the cold-start
// cost.
func (p *aquatopePlanner) setAllowedCold(share, missShare float64, batch int) {
	if share == p.cfg.allowedCold && missShare == p.cfg.missShare && batch == p.cfg.batch && (share == 0 || p.choices != nil) {
		return
	}
	p.cfg.allowedCold, p.cfg.missShare, p.cfg.batch = share, missShare, batch
	p.choices = nil
	if share > 0 {
		p.choices = map[[2]int]floorKeep{}
	}
	if p.window != nil {
		p.window.setChoice(p.window.coldCost, missShare)
	}
}

// idleWindowRange is the span of the idle times aquatope's window weighs,
// at most idleWindowMaxBins intervals.
const (
	idleWindowRange   = 2 * time.Hour
	idleWindowMaxBins = 720
)

type aquatopePlanner struct {
	cfg        Aquatope
	f          Function
	forecaster *forecast.BayesLinear
	observed   int         // intervals observed
	called     bool        // an interval with arrivals has been observed
	window     *idleWindow // nil without a cold-start cost
	// choices are the floors and keep-alives chosen for an allowed cold
	// share (see planAllowedCold), by calls in flight and share, each in
	// steps of a quarter of a doubling (see floorKeepKey); nil without
	// an allowed cold share.
	choices map[[2]int]floorKeep
}

// floorKeep is a floor and a keep-alive.
type floorKeep struct {
	floor     int
	keepAlive time.Duration
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
		if p.window != nil && arrivals > 0 {
			p.window.calls += arrivals
			p.window.observe(i)
		}
	}
}

// Plan forecasts interval i two intervals after the last observed one. A
// function never called keeps no floor: the prior alone (wide, since
// nothing is known) would otherwise warm a sandbox for every function as
// soon as it is deployed, most of which are rarely called.
//
// With a cold-start cost, once the idle window is chosen the first
// sandbox follows it rather than the forecast, whose floor counts from two
// up (the concurrency of busy functions): under a keep window, a floor of
// one while the last interval with arrivals seen is at most the window's
// keep ago, and a keep-alive of at least two intervals when the forecast
// floor is under two (the floor cannot know of a call in the interval
// before the one planned: the keep-alive bridges it); under a pre-warm
// window, a floor of one inside it, and a sandbox outside it goes within
// half an interval of its last call.
func (p *aquatopePlanner) Plan(i int) Decision {
	if !p.called {
		return Decision{KeepAlive: p.cfg.KeepAlive}
	}
	if p.choices != nil {
		return p.planAllowedCold(i)
	}
	q := p.forecaster.Predict().Quantile(p.cfg.Quantile)
	d := Decision{Floor: concurrencyFloor(float64(q), p.f, p.cfg.Concurrency), KeepAlive: p.cfg.KeepAlive}
	w := p.window
	if w == nil || !w.fitted || d.Floor >= 2 {
		return d
	}
	d.Floor = w.floor(i)
	interval := intervalOrMinute(p.f)
	if w.prewarm > 0 || w.keep == 0 {
		d.KeepAlive = min(d.KeepAlive, interval/2)
	} else {
		d.KeepAlive = max(d.KeepAlive, 2*interval)
	}
	return d
}

// planAllowedCold plans interval i so that the function's calls find no
// warm sandbox at most its allowed shares of the time at the least idle:
// the idle window's floor for calls after whole intervals without any
// (cold arrivals, see setAllowedCold), and the floor and keep-alive that
// by the level model keep the cold starts within an interval and the next
// within the function's share (coldFractionChoice, at the calls in flight
// of the median forecast: the share is an average over the calls, and the
// median forecast errs as often above as below; the settings' upper
// quantile is the hedge of a floor priced per interval). Idle sandboxes
// are kept the chain hold at least (see FunctionQoS.ChainHold). Until the window is chosen, idle sandboxes are kept
// the settings' keep-alive at least, and under a keep window two
// intervals, as in Plan.
func (p *aquatopePlanner) planAllowedCold(i int) Decision {
	interval := intervalOrMinute(p.f)
	arrivals := float64(p.forecaster.Predict().Quantile(AquatopeQuantile))
	var d Decision
	w := p.window
	if w != nil && w.fitted {
		d.Floor = w.floor(i)
	}
	inFlight := arrivals * p.f.MeanDuration.Seconds() / interval.Seconds()
	key := floorKeepKey(inFlight, p.cfg.allowedCold)
	c, ok := p.choices[key]
	if !ok {
		c = p.cfg.shared.choose(key, max(p.cfg.batch, 1), p.f.MeanDuration, 2*interval)
		p.choices[key] = c
	}
	d.Floor, d.KeepAlive = max(d.Floor, c.floor), max(c.keepAlive, p.cfg.chainHold)
	switch {
	case w == nil || !w.fitted:
		// Until the window is chosen, the settings' keep-alive bridges
		// the gaps between calls, as in Plan.
		d.KeepAlive = max(d.KeepAlive, p.cfg.KeepAlive)
	case w.prewarm == 0 && w.keep > 0:
		d.KeepAlive = max(d.KeepAlive, 2*interval)
	}
	return d
}

// floorKeepKey are the calls in flight, rounded up, and the allowed share,
// rounded down, to quarters of a doubling (the calls in flight at least
// 2⁻¹⁶, the share at least 2⁻²⁰): a choice made for them holds for the
// values they round.
func floorKeepKey(inFlight, share float64) [2]int {
	return [2]int{int(math.Ceil(4 * math.Log2(max(inFlight, 0x1p-16)))), int(math.Floor(4 * math.Log2(max(share, 0x1p-20))))}
}

// loadInFlight and loadShare are the calls in flight and the allowed
// share a key of floorKeepKey stands for.
func loadInFlight(key [2]int) float64 { return math.Exp2(float64(key[0]) / 4) }
func loadShare(key [2]int) float64    { return math.Exp2(float64(key[1]) / 4) }

func (p *aquatopePlanner) Lead() time.Duration { return p.f.ColdStart }

// SetTimes implements Timed: live, the floor follows the measured mean
// duration and the lead the measured cold start.
func (p *aquatopePlanner) SetTimes(coldStart, meanDuration time.Duration) {
	if meanDuration != p.f.MeanDuration && p.choices != nil {
		clear(p.choices) // chosen in units of the mean duration
	}
	p.f.ColdStart, p.f.MeanDuration = coldStart, meanDuration
}

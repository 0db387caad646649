package prewarm

import (
	"fmt"
	"time"
)

// Oracle knows each interval's arrivals in advance: it is aquatope with a
// perfect forecast. Its floor is aquatope's rule applied to the interval's
// true arrivals (the Concurrency-th quantile of the calls in flight at an
// instant, see concurrencyFloor; none in an interval without arrivals), in
// force a cold start ahead, with a keep-alive above it. Against aquatope
// it shows what the forecast costs; across keep-alives (oracle-DURATION)
// it bounds what any per-interval floor can achieve.
type Oracle struct {
	// KeepAlive is the keep-alive above the floor (default 5 minutes: its
	// floors cover each interval's mean concurrency, and the tail catches
	// the bursts inside an interval).
	KeepAlive time.Duration
	// Concurrency is the quantile of the calls in flight the floor covers
	// (default aquatope's, 0.99).
	Concurrency float64
}

// Name implements PrewarmPolicy: oracle, or oracle-DURATION with a
// keep-alive other than the default.
func (o Oracle) Name() string {
	if o.KeepAlive == 0 || o.KeepAlive == OracleKeepAlive {
		return "oracle"
	}
	if o.KeepAlive%time.Minute == 0 {
		return fmt.Sprintf("oracle-%dm", int(o.KeepAlive/time.Minute))
	}
	return "oracle-" + o.KeepAlive.String()
}

// OracleKeepAlive is the oracle's default keep-alive above its floors.
const OracleKeepAlive = 5 * time.Minute

// ChainWarming implements PrewarmPolicy: the oracle's floors already cover
// every stage's arrivals.
func (Oracle) ChainWarming() bool { return false }

// NewPlanner implements PrewarmPolicy.
func (o Oracle) NewPlanner(f Function) (Planner, error) {
	if o.KeepAlive == 0 {
		o.KeepAlive = OracleKeepAlive
	}
	if o.Concurrency == 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.KeepAlive < 0 || !(o.Concurrency > 0 && o.Concurrency < 1) {
		return nil, fmt.Errorf("oracle policy for %s: keep-alive %v, concurrency quantile %v: want a keep-alive ≥ 0 and a quantile in (0, 1)", f.Name, o.KeepAlive, o.Concurrency)
	}
	return &oraclePlanner{f: f, keepAlive: o.KeepAlive, concurrency: o.Concurrency}, nil
}

type oraclePlanner struct {
	f           Function
	keepAlive   time.Duration
	concurrency float64
}

func (p *oraclePlanner) Observe(int, int) {}

func (p *oraclePlanner) Plan(i int) Decision {
	if i < 0 || i >= len(p.f.Future) {
		return Decision{KeepAlive: p.keepAlive}
	}
	return Decision{Floor: concurrencyFloor(float64(p.f.Future[i]), p.f, p.concurrency), KeepAlive: p.keepAlive}
}

func (p *oraclePlanner) Lead() time.Duration { return p.f.ColdStart }

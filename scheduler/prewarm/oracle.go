package prewarm

import "time"

// Oracle knows each interval's arrivals in advance: it is aquatope with a
// perfect forecast. Its floor is the concurrency the interval's true
// arrivals need (at least one sandbox in any interval with an arrival, none
// otherwise), in force a cold start ahead, with a keep-alive above it. It
// bounds what a per-interval floor on the mean can achieve.
type Oracle struct {
	// KeepAlive is the keep-alive above the floor (default 5 minutes: its
	// floors cover each interval's mean concurrency, and the tail catches
	// the bursts inside an interval).
	KeepAlive time.Duration
}

// Name implements PrewarmPolicy.
func (Oracle) Name() string { return "oracle" }

// ChainWarming implements PrewarmPolicy: the oracle's floors already cover
// every stage's arrivals.
func (Oracle) ChainWarming() bool { return false }

// NewPlanner implements PrewarmPolicy.
func (o Oracle) NewPlanner(f Function) (Planner, error) {
	if o.KeepAlive == 0 {
		o.KeepAlive = 5 * time.Minute
	}
	return &oraclePlanner{f: f, keepAlive: o.KeepAlive}, nil
}

type oraclePlanner struct {
	f         Function
	keepAlive time.Duration
}

func (p *oraclePlanner) Observe(int, int) {}

func (p *oraclePlanner) Plan(i int) Decision {
	if i < 0 || i >= len(p.f.Future) {
		return Decision{KeepAlive: p.keepAlive}
	}
	return Decision{Floor: floorFor(float64(p.f.Future[i]), p.f), KeepAlive: p.keepAlive}
}

func (p *oraclePlanner) Lead() time.Duration { return p.f.ColdStart }

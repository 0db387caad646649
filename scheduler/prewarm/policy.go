package prewarm

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Decision is what a policy wants for one function over one interval.
type Decision struct {
	// Floor is the number of sandboxes to keep even when idle.
	Floor int
	// KeepAlive is how long an idle sandbox above the floor is kept; zero
	// deletes it as soon as it is idle.
	KeepAlive time.Duration
}

// Function is what a policy knows of a function when it starts planning.
type Function struct {
	// Name identifies the function.
	Name string
	// ColdStart is the function's measured time to start a sandbox.
	ColdStart time.Duration
	// MeanDuration is its measured mean execution time.
	MeanDuration time.Duration
	// Interval is the length of a planning interval (one minute for traces).
	Interval time.Duration
	// Future is the number of arrivals in each interval, known in advance:
	// only the oracle reads it, and only the simulator can fill it in.
	Future []int
	// QoS is the function's pre-warm aggressiveness under its workflow's
	// QoS (PlanQoS); nil for a function outside a workflow with a QoS.
	// Only QoS-aware policies (aquatope-qos) read it.
	QoS *FunctionQoS
}

// Planner plans one function interval by interval. The caller calls
// Observe(i) once per interval, in order, when interval i has ended, and
// Plan(i) once per interval, in order, Lead() before interval i starts,
// when the intervals before i−1 have been observed (interval i−1 is still
// running then). A Planner is not safe for concurrent use.
type Planner interface {
	// Observe records the number of arrivals in interval i.
	Observe(i, arrivals int)
	// Plan returns the decision for interval i.
	Plan(i int) Decision
	// Lead is how long before an interval its decision must be in force:
	// sandboxes it asks for are started that early.
	Lead() time.Duration
}

// PrewarmPolicy is a pre-warm policy: it makes one Planner per function.
// Its methods are safe for concurrent use.
type PrewarmPolicy interface {
	// Name is the policy's name on the command line.
	Name() string
	// ChainWarming reports whether, when a workflow's first stage starts,
	// the sandboxes of its downstream stages are started just in time
	// (each by its own cold start before it is expected to be needed, only
	// where no warm sandbox is free).
	ChainWarming() bool
	// NewPlanner returns a planner for f.
	NewPlanner(f Function) (Planner, error)
}

// Names returns the names of the policies New knows, in report order.
func Names() []string {
	return []string{"aquatope", "aquatope-qos", "aquatope-nochain", "hybrid-histogram", "keepalive-10m", "none", "oracle"}
}

// New returns the policy named name with its default settings. Besides
// the names of Names, keepalive-DURATION (keepalive-2m, keepalive-90s) is
// a fixed keep-alive of that duration and oracle-DURATION the oracle with
// that keep-alive above its floors, hybrid-histogram-DURATION the hybrid
// histogram over that range, and aquatope-DURATION, aquatope-qQUANTILE,
// aquatope-cDURATION or any of them in that order
// (aquatope-1m-q0.8-c20m) aquatope with that keep-alive above its floor,
// floor quantile and cold-start cost (c0: none): the points of the
// frontiers of cold starts against idle time (see Sweeps).
func New(name string) (PrewarmPolicy, error) {
	switch name {
	case "aquatope":
		return Aquatope{Chain: true, ColdStartCost: AquatopeColdStartCost}, nil
	case "aquatope-qos":
		return Aquatope{Chain: true, ColdStartCost: AquatopeColdStartCost, QoSAware: true, shared: newChoiceCache()}, nil
	case "aquatope-nochain":
		return Aquatope{ColdStartCost: AquatopeColdStartCost}, nil
	case "hybrid-histogram":
		return HybridHistogram{}, nil
	case "keepalive-10m":
		return KeepAlive{Duration: 10 * time.Minute}, nil
	case "none":
		return KeepAlive{}, nil
	case "oracle":
		return Oracle{}, nil
	}
	if p, ok, err := parseParameterised(name); ok {
		return p, err
	}
	return nil, fmt.Errorf("unknown pre-warm policy %q: want one of %s, or keepalive-, oracle-, hybrid-histogram- or aquatope- with parameters (see --frontier)", name, strings.Join(Names(), ", "))
}

// Parse turns a --policy value, "all" or names separated by commas, into
// policies.
func Parse(list string) ([]PrewarmPolicy, error) {
	names := Names()
	if strings.TrimSpace(list) != "all" {
		names = nil
		for _, n := range strings.Split(list, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("no pre-warm policy named: want all or some of %s", strings.Join(Names(), ","))
		}
	}
	out := make([]PrewarmPolicy, 0, len(names))
	seen := map[string]bool{} // by Name: oracle-5m is the oracle
	for _, n := range names {
		p, err := New(n)
		if err != nil {
			return nil, err
		}
		if !seen[p.Name()] {
			seen[p.Name()] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// intervalOrMinute returns f's interval, one minute when unset.
func intervalOrMinute(f Function) time.Duration {
	if f.Interval <= 0 {
		return time.Minute
	}
	return f.Interval
}

// concurrencyFloor is the number of sandboxes that covers, with
// probability q, how many calls are in flight at any instant of an
// interval with arrivals calls: calls arriving at random through the
// interval, each busy for the mean duration, are in flight in number
// Poisson(arrivals × duration / interval) (an M/G/∞ queue), so the floor
// is that Poisson's q-quantile; at least one when any call is expected.
// Little's law alone (a floor of the mean) covered the mean, and the
// bursts inside an interval went cold.
func concurrencyFloor(arrivals float64, f Function, q float64) int {
	if arrivals <= 0 {
		return 0
	}
	return max(1, poissonQuantile(arrivals*f.MeanDuration.Seconds()/intervalOrMinute(f).Seconds(), q))
}

// poissonQuantile is the q-quantile of a Poisson of the given mean: summed
// term by term up to poissonExactMax, the normal approximation past it.
func poissonQuantile(mean, q float64) int {
	if mean > poissonExactMax {
		return max(1, int(math.Ceil(mean+normalQuantile(q)*math.Sqrt(mean))))
	}
	p := math.Exp(-mean) // P(N = 0), a normal float at this mean
	k, cum := 0, p
	for cum < q && k < poissonExactMax*4 {
		k++
		p *= mean / float64(k)
		cum += p
	}
	return k
}

// poissonExactMax is the largest mean concurrencyFloor sums the Poisson
// terms for. Past it the normal approximation is within a sandbox of the
// quantile, and exp(−mean) heads for the subnormal floats, where the sum
// loses its precision and might never reach q.
const poissonExactMax = 400

// normalQuantile is the standard normal's q-quantile.
func normalQuantile(q float64) float64 { return math.Sqrt2 * math.Erfinv(2*q-1) }

package sim

import (
	"fmt"
	"math/rand/v2"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/stats"
)

// Binding is a latency target chosen where the QoS binds: the tightest
// that static-max (every knob at its upper bound) meets in all but
// MissRate of its windows of WindowSize invocations. A workflow's own
// target is often slack enough that every policy meets it.
type Binding struct {
	Target scheduler.Target
	// SetBy is the percentile of static-max's true latency that sets the
	// target (scheduler.WindowSafePercentile).
	SetBy      float64
	WindowSize int
	MissRate   float64
	// CheckWindows further windows of static-max were simulated at the
	// target; CheckMissRate is the share that missed it.
	CheckWindows  int
	CheckMissRate float64
}

// BindingTarget finds the binding target at percentile p for windows of
// windowSize invocations of which at most missRate may miss, from the
// simulator's truth (scheduler.BindingTarget), and checks it over
// checkWindows simulated windows of static-max drawn from seed.
func BindingTarget(s *Simulator, space *scheduler.Space, p float64, windowSize int, missRate float64, checkWindows int, seed uint64) Binding {
	b := Binding{
		Target:     scheduler.BindingTarget(s, space.Max(), p, windowSize, missRate),
		SetBy:      scheduler.WindowSafePercentile(p, windowSize, missRate),
		WindowSize: windowSize, MissRate: missRate, CheckWindows: checkWindows,
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	missed := 0
	for range checkWindows {
		if stats.Percentile(s.latencies(space.Max(), windowSize, rng), p) > b.Target.LatencyMs {
			missed++
		}
	}
	if checkWindows > 0 {
		b.CheckMissRate = float64(missed) / float64(checkWindows)
	}
	return b
}

// Why says how the target was chosen, for reports.
func (b Binding) Why() string {
	return fmt.Sprintf("binding: the tightest p%g that static-max meets in %g%% of %d-invocation windows "+
		"(its true p%.2f over %d simulated invocations, rounded up to a ms); static-max missed it in %.2f%% of %d further simulated windows",
		b.Target.Percentile, 100*(1-b.MissRate), b.WindowSize, b.SetBy, truthSamples, 100*b.CheckMissRate, b.CheckWindows)
}

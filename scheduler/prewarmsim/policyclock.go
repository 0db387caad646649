package prewarmsim

import (
	"context"
	"runtime/pprof"
	"time"

	"baton.dev/baton/scheduler/prewarm"
)

// policyClock times one worker's runs of each policy's runners and labels
// them for a CPU profile, so that a profile of `baton sim prewarm
// --cpuprofile` splits by policy (go tool pprof -tagfocus policy=none, or
// -tags for the shares).
type policyClock struct {
	// busy is the time spent in each policy's runners.
	busy []time.Duration
	// labelled are the worker's context with each policy's profile label;
	// base is the worker's own, put back after each run.
	labelled []context.Context
	base     context.Context
}

// newPolicyClock returns a clock of policies for a worker running in ctx.
func newPolicyClock(ctx context.Context, policies []prewarm.PrewarmPolicy) *policyClock {
	c := &policyClock{busy: make([]time.Duration, len(policies)), base: ctx}
	for _, pol := range policies {
		c.labelled = append(c.labelled, pprof.WithLabels(ctx, pprof.Labels("policy", pol.Name())))
	}
	return c
}

// run runs f, the work of policy k, timed and labelled.
func (c *policyClock) run(k int, f func()) {
	pprof.SetGoroutineLabels(c.labelled[k])
	start := time.Now()
	f()
	c.busy[k] += time.Since(start)
	pprof.SetGoroutineLabels(c.base)
}

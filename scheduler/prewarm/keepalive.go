package prewarm

import (
	"fmt"
	"time"
)

// KeepAlive keeps an idle sandbox for a fixed time after its last request
// and never pre-warms: keepalive-10m with ten minutes, as public clouds do,
// and none with zero (scale to zero at once).
type KeepAlive struct {
	// Duration is the keep-alive.
	Duration time.Duration
}

// Name implements PrewarmPolicy.
func (k KeepAlive) Name() string {
	if k.Duration == 0 {
		return "none"
	}
	if k.Duration%time.Minute == 0 {
		return fmt.Sprintf("keepalive-%dm", int(k.Duration/time.Minute))
	}
	return "keepalive-" + k.Duration.String()
}

// ChainWarming implements PrewarmPolicy.
func (KeepAlive) ChainWarming() bool { return false }

// NewPlanner implements PrewarmPolicy.
func (k KeepAlive) NewPlanner(Function) (Planner, error) {
	if k.Duration < 0 {
		return nil, fmt.Errorf("keep-alive policy: duration %v, want ≥ 0", k.Duration)
	}
	return fixedPlanner{Decision{KeepAlive: k.Duration}}, nil
}

// fixedPlanner decides the same every interval.
type fixedPlanner struct{ d Decision }

func (p fixedPlanner) Observe(int, int)    {}
func (p fixedPlanner) Plan(int) Decision   { return p.d }
func (p fixedPlanner) Lead() time.Duration { return 0 }

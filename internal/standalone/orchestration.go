package standalone

import (
	"fmt"
	"time"

	"baton.dev/baton/orchestrator"
	"baton.dev/baton/scheduler/prewarm"
)

// Orchestration is how the orchestrator scales sandboxes: the settings a
// standalone Baton (Config) and a control plane alone (ControlPlaneConfig)
// share.
type Orchestration struct {
	// KeepAlive, HealthTimeout, AutoscaleTick and MaxSandboxesPerFunction
	// are the orchestrator's.
	KeepAlive               time.Duration
	HealthTimeout           time.Duration
	AutoscaleTick           time.Duration
	MaxSandboxesPerFunction int
	// MaxQueue and MaxQueueWait bound each function's queue (orchestrator.Config).
	MaxQueue     int
	MaxQueueWait time.Duration
	// Allow is what workflows may ask for beyond the sandboxes'
	// hardening: capabilities, root, egress (orchestrator.Config's
	// Privileges; --allow-capability, --allow-root, --allow-egress).
	// The zero value allows nothing.
	Allow orchestrator.Privileges
	// Prewarm names the live pre-warm policy ("" or "off": none, the
	// keep-alive alone); PrewarmInterval is its planning interval.
	Prewarm         string
	PrewarmInterval time.Duration
	// PrewarmKeepAlive, when set, is the aquatope policies' keep-alive
	// above the floor (zero: the policy's default,
	// prewarm.AquatopeKeepAlive).
	PrewarmKeepAlive time.Duration
	// PrewarmLive, when set, is the live pre-warm planner itself and the
	// other Prewarm settings are ignored (benchmarks scale policies).
	PrewarmLive *prewarm.Live
}

// livePrewarm returns the live pre-warm planner the settings name; nil for
// "off". The aquatope policies keep idle sandboxes above their floor for
// PrewarmKeepAlive when it is set; the other policies choose their own.
func (o Orchestration) livePrewarm() (*prewarm.Live, error) {
	if o.PrewarmLive != nil || o.Prewarm == "" || o.Prewarm == "off" {
		return o.PrewarmLive, nil
	}
	if o.PrewarmInterval < 0 {
		return nil, fmt.Errorf("--prewarm-interval %v: want a positive interval", o.PrewarmInterval)
	}
	p, err := prewarm.New(o.Prewarm)
	if err != nil {
		return nil, fmt.Errorf("--prewarm: %w", err)
	}
	if a, ok := p.(prewarm.Aquatope); ok && o.PrewarmKeepAlive > 0 {
		a.KeepAlive = o.PrewarmKeepAlive
		p = a
	}
	live, err := prewarm.NewLive(p, prewarm.LiveOptions{Interval: o.PrewarmInterval})
	if err != nil {
		return nil, fmt.Errorf("--prewarm %s: %w", o.Prewarm, err)
	}
	return live, nil
}

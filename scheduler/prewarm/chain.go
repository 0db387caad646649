package prewarm

import "time"

// ChainWarmAt is when, after a workflow's invocation starts, a downstream
// stage's sandboxes should start so that they are ready just as the stage
// is expected: delay is how long the first stages are expected to wait
// for a cold start, offset when the stage is expected to start after them
// (the critical path of mean durations before it), coldStart the stage's
// own function's cold start. Never before the invocation starts.
func ChainWarmAt(delay, offset, coldStart time.Duration) time.Duration {
	return max(0, delay+offset-coldStart)
}

// ChainNeed is how many sandboxes chain warming starts for a stage that
// will want `want` at once, when the pool has idle ones and creations
// under way that neither queued requests (waiting) nor other invocations'
// stages, warmed for but not yet started (claimed), have taken: only
// where no warm sandbox is free. Without the claims, a burst of k
// invocations arriving to a cold workflow warmed one stage's worth of
// sandboxes for all k, and all but one waited for cold starts.
func ChainNeed(want, idle, creating, waiting, claimed int) int {
	return max(0, want-(idle+creating-waiting-claimed))
}

// ChainWarms reports whether an invocation warms its downstream stages
// ahead: only when it arrives cold, when some first stage's pool has no
// idle sandbox (minRootIdle, the fewest idle among the first stages'
// pools, is zero). An invocation that finds its first stages warm finds
// its later ones warm too, as often as not: their pools follow the same
// arrivals. On the synthetic trace (1000 functions, 24 h, seed 1)
// warming for every invocation cost aquatope 88.5 M idle sandbox-seconds
// and 22,908 cold starts, warming for cold arrivals 84.6 M and 21,634
// (workflows' own share 27.2 M -> 23.3 M, the cold-arrival p99 the same
// 2,705 ms; QoS violations 8.8% -> 9.7%, keepalive-10m's 9.8%).
func ChainWarms(minRootIdle int) bool { return minRootIdle == 0 }

// ChainWarmsStage reports whether, under policy, stage (its index in the
// workflow) is chain-warmed when an invocation warms ahead: never without
// chain warming; under a QoS-aware policy with the workflow's plan (nil
// when it has none), only where the plan says its cold start would cost
// violations; otherwise every stage with needs.
func ChainWarmsStage(policy PrewarmPolicy, plan *QoSPlan, stage int) bool {
	if !policy.ChainWarming() {
		return false
	}
	if QoSAware(policy) && plan != nil && stage >= 0 && stage < len(plan.ChainWarm) {
		return plan.ChainWarm[stage]
	}
	return true
}

// QoSAware reports whether policy plans a workflow's functions from its
// QoS plan (Function.QoS): aquatope-qos.
func QoSAware(policy PrewarmPolicy) bool {
	a, ok := policy.(Aquatope)
	return ok && a.QoSAware
}

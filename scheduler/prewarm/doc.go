// Package prewarm holds Baton's pre-warm policies: for each function and
// each interval (a minute in traces), how many sandboxes to keep warm even
// when idle (the autoscaler's floor) and how long an idle sandbox above
// that floor is kept (the keep-alive).
//
// The policies are aquatope (the floor from an upper quantile of the
// concurrency predicted by a Bayesian arrival forecaster, warmed ahead by
// the function's cold start, with just-in-time warming of a workflow's
// downstream stages), aquatope-qos (aquatope whose aggressiveness for a
// workflow's functions — cold-start cost, keep-alive, floor quantile,
// which stages are chain-warmed — is decided against the workflow's QoS by
// PlanQoS: idle spent where cold starts would break the QoS, saved where
// it has room) and the baselines they are measured against:
// keepalive-10m (a fixed ten-minute keep-alive, as public clouds do),
// hybrid-histogram (the per-function idle-time histogram policy of Shahrad
// et al., "Serverless in the Wild", ATC'20), none (scale to zero at once)
// and oracle (knows each interval's arrivals in advance).
//
// Policies are pure: a planner's decisions are a deterministic function of
// the function's description and the arrivals it was shown. The same code
// runs in the simulator (scheduler/prewarmsim) and, live, behind the
// orchestrator's autoscaler floor.
package prewarm

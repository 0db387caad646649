// Package sim is Baton's workflow simulator: it builds per-stage latency
// models from a profile (scheduler/profile), runs invocations of a workflow
// under a configuration — stage latencies sampled from the measured noise,
// foreach stages fanned out in parallel, end-to-end latency along the DAG's
// critical path, cost from the DESIGN.md price model — and compares resource
// policies side by side (Tune). At an arrival rate (TuneOptions.
// ArrivalsPerMinute) it also runs each configuration pre-warmed by the
// QoS-aware plan its resources imply (Prewarmed: idle and start-up cost per
// invocation, cold starts in the latencies), so that tuning chooses
// resources and pre-warm settings together.
package sim

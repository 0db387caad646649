// Package scheduler chooses per-function CPU and memory for a workflow so
// that its end-to-end latency percentile meets the QoS target at the lowest
// cost. A ResourcePolicy suggests configurations to measure, observes their
// results and names the best safe one; the policies are Aquatope's
// constrained, noise-aware Bayesian optimisation (built on package bayes),
// aquatope-stages (the same with a model per stage composed through the
// workflow's DAG) and the baselines they are compared with (static-max,
// static-default, random, cherrypick, oracle).
//
// Decisions are pure: a policy's suggestions are a deterministic function of
// its seed and of the observations it was given; nothing here does I/O.
// The workflow simulator that evaluates the policies lives in scheduler/sim
// and the profile format and measurement in scheduler/profile.
package scheduler

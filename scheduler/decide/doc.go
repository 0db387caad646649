// Package decide holds the control plane's decisions as pure functions
// over read-only state that return plans, as Nomad's scheduler does:
// where a sandbox goes (Place), how many sandboxes each function's pool
// should have and which idle ones go (Scale, Desired), and which
// downstream sandboxes a starting workflow warms, when (PlanChainWarming).
// It imports nothing that does I/O, so the orchestrator, the simulators
// and the benchmarks share the same decision code.
package decide

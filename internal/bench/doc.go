// Package bench holds the drivers of `baton bench`: each starts what it
// measures, runs it beside a baseline measured in the same run, and
// returns a report that prints itself as a table (WriteTable) or as JSON
// (every field tagged).
//
//   - RunColdStart: concurrent cold starts through a local Baton against
//     the same sandboxes made with containerd and CNI directly.
//   - RunDataPlane: warm invocations through the orchestrator against the
//     same requests sent straight to the sandboxes and through a bare
//     reverse proxy; its load can run in a child process
//     (ServeDataPlaneLoad is the child's side).
//   - RunPrewarm: a slice of a trace replayed against real sandboxes under
//     each pre-warm policy.
//   - RunControlPlane: the control-plane benchmark of internal/simcluster
//     on a simulated cluster, with the machine's load around it.
//
// They share an open- and closed-loop HTTP load generator, a standalone
// Baton started for one run (internal/standalone, on subnets apart from
// the tests'), and the machine's load average and CPU stalls around a
// run (MachineLoad).
package bench

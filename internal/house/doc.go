// Package house holds no code: its test checks that the repository's
// packages depend on each other in the direction the design says, cmd ->
// orchestrator -> (workflow, scheduler, worker protocol) -> bayes, with no
// import back up, and that the scheduler's packages (the decisions the
// simulators share with the orchestrator) link nothing that does network
// or database I/O.
package house

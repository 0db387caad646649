package main

import (
	"os"
	"runtime/debug"
)

// orchestratorGCPercent is the garbage collector's target in a process
// that runs the orchestrator: the heap may grow to 5× the live one
// between collections instead of Go's default 2×. Collections are then a
// fifth as frequent, and each one's marking slows the goroutines that
// allocate meanwhile: with GOGC=100 a collection fell into nearly every
// second of `baton bench controlplane`'s paced phase and set its p99. The
// price is memory: the orchestrator's live heap is tens of MiB for
// thousands of functions. GOGC in the environment still wins.
const orchestratorGCPercent = 400

// orchestratorGC sets the orchestrator's garbage-collector target unless
// GOGC is set.
func orchestratorGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(orchestratorGCPercent)
	}
}

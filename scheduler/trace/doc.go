// Package trace holds serverless invocation traces for the pre-warm
// simulator: readers of the two public Azure Functions trace formats (2019:
// invocations per function per minute with duration and memory percentiles
// in three CSV files; 2021: one row per invocation with app, func,
// end_timestamp and duration) and a generator of synthetic traces shaped on
// that workload's published characteristics (Shahrad et al., "Serverless in
// the Wild", ATC'20).
//
// Every trace becomes one Trace: per function, its invocations (start time
// and duration) sorted by start. Randomness (where a per-minute count is
// spread inside its minute, which functions a sample keeps, the synthetic
// workload) comes from the seed the caller gives, so a Trace is a
// deterministic function of its inputs.
package trace

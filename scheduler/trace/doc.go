// Package trace holds serverless invocation traces for the pre-warm
// simulator: readers of the two public Azure Functions trace formats (2019:
// invocations per function per minute with duration and memory percentiles
// in three CSV files; 2021: one row per invocation with app, func,
// end_timestamp and duration) and a generator of synthetic traces shaped on
// that workload's published characteristics (Shahrad et al., "Serverless in
// the Wild", ATC'20).
//
// A trace is a Stream: per function, its invocations (start time and
// duration) sorted by start, produced a minute at a time on demand, so that
// the Azure 2019 trace, per-minute counts, is held as counts and never as
// invocations (OpenAzure2019); a Trace holds every invocation in memory
// (Read, Synthetic, Collect). Heavy and WriteAzure2019 make synthetic traces
// in the 2019 format with the heavy head of the real one.
//
// Randomness (where a per-minute count is spread inside its minute, which
// functions a sample keeps, the synthetic workload) comes from the seed the
// caller gives, so a trace is a deterministic function of its inputs.
package trace

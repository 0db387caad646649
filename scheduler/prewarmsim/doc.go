// Package prewarmsim is the discrete-event simulator that evaluates the
// pre-warm policies of scheduler/prewarm on a trace (scheduler/trace): each
// function's requests arrive as the trace says, wait for a warm sandbox or
// for one to start, and run; the orchestrator's real autoscaler
// (decide.Scale) decides creations and deletions from each pool's
// state, its demand windows and the floor and keep-alive the policy's
// planner sets once per interval. The sample workflows run on top: their
// invocations arrive as some trace functions do and their stages become
// functions of their own, so that end-to-end QoS violations and the effect
// of chain warming are measured.
//
// Functions (and workflow instances) do not share sandboxes, so each runs
// as its own event loop, in parallel over the CPUs; results are a
// deterministic function of the trace, the workflows, the policy and the
// seed.
//
// The trace is streamed (trace.Stream): a function's invocations are
// produced a minute at a time and handed to the event loops of every
// policy at once, so that memory holds per-function state (its per-minute
// counts in the trace, the simulated sandboxes, queues and planners of the
// functions in flight) and never one record per invocation; the workflows'
// latency percentiles come from a sketch of stated relative error
// (SketchRelativeError). Time is linear in the invocations.
package prewarmsim

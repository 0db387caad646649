// Package profile defines Baton's workflow profile — per-stage latencies
// measured over a grid of CPU and memory limits, repetitions kept — and
// measures one against a running Baton (see Measure). The simulator in
// scheduler/sim builds its stage latency models from profiles.
//
// # Format (version 1)
//
// A profile is a JSON document:
//
//	{
//	  "version": 1,
//	  "workflow": "ml-pipeline",
//	  "source": "measured: baton profile on containerd, host …",
//	  "createdAt": "2025-01-02T15:04:05Z",
//	  "grid": {"cpuMilli": [250, 500, 1000, 2000], "memoryMiB": [128, 256, 512]},
//	  "stages": [
//	    {"name": "preprocess", "function": "preprocess", "items": 1,
//	     "points": [{"cpuMilli": 250, "memoryMiB": 128, "latencyMs": [812.4, 799.0, …]}, …]}
//	  ]
//	}
//
// Its fields:
//
//   - version is 1; readers reject any other.
//   - source says where the numbers come from: "measured: …" for numbers
//     from `baton profile`, "synthetic: …" for numbers from a model.
//     Synthetic profiles exist only so tests and CI can run the simulator.
//   - grid lists the CPU (millicores) and memory (MiB) values, ascending;
//     every stage has exactly one point per grid pair.
//   - stages follow the workflow's stage order. items is how many calls a
//     foreach stage makes per invocation (1 otherwise); latencyMs are the
//     execution times of single calls in milliseconds, one per repetition, in
//     measurement order (for a foreach stage, the mean call of one invocation).
package profile

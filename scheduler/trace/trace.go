package trace

import (
	"math"
	"time"
)

// Trace is a set of functions with their invocations over Minutes minutes
// from the trace's start.
type Trace struct {
	// Source says where the trace came from (a path or the generator's
	// parameters), for reports.
	Source string
	// Minutes is the trace's length; every invocation starts before
	// Minutes × 60 s.
	Minutes int
	// Functions are the traced functions, in a stable order.
	Functions []Function
}

// Function is one traced function.
type Function struct {
	// Name identifies the function in its trace (owner/app/function hashes
	// for Azure 2019, app/func for Azure 2021).
	Name string
	// App is the application the function belongs to.
	App string
	// Trigger is what invokes the function (http, timer, queue, event,
	// storage, orchestration, others), or "" when the trace does not say.
	Trigger string
	// MemoryMB is the memory its sandbox is sized for.
	MemoryMB float64
	// ColdStart is the time to start one of its sandboxes.
	ColdStart time.Duration
	// Invocations are its invocations sorted by Start.
	Invocations []Invocation
}

// Invocation is one call of a function.
type Invocation struct {
	// Start is when the call arrives, in seconds from the trace's start.
	Start float64
	// Duration is how long it runs on a warm sandbox, in seconds.
	Duration float32
}

// Counts returns the function's invocations per minute over minutes minutes.
func (f *Function) Counts(minutes int) []int {
	counts := make([]int, minutes)
	for _, inv := range f.Invocations {
		m := int(inv.Start / 60)
		if m >= 0 && m < minutes {
			counts[m]++
		}
	}
	return counts
}

// MeanDuration returns the mean duration of the function's invocations
// (zero when it has none).
func (f *Function) MeanDuration() time.Duration {
	if len(f.Invocations) == 0 {
		return 0
	}
	var sum float64
	for _, inv := range f.Invocations {
		sum += float64(inv.Duration)
	}
	return time.Duration(sum / float64(len(f.Invocations)) * float64(time.Second))
}

// TotalInvocations returns the number of invocations over all functions.
func (t *Trace) TotalInvocations() int {
	n := 0
	for i := range t.Functions {
		n += len(t.Functions[i].Invocations)
	}
	return n
}

// ColdStartFor is the cold-start model used when a trace does not record
// cold starts (neither Azure trace does): a fixed 250 ms to create the
// sandbox and start the runtime plus 0.8 ms per MB of memory to load the
// function's code and state, so 128 MB starts in about 350 ms and 1 GB in
// about 1.07 s, in line with published measurements of public clouds.
func ColdStartFor(memoryMB float64) time.Duration {
	if math.IsNaN(memoryMB) || memoryMB < 0 {
		memoryMB = 0
	}
	return 250*time.Millisecond + time.Duration(memoryMB*0.8*float64(time.Millisecond))
}

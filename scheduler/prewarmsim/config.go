package prewarmsim

import (
	"fmt"
	"runtime"
	"time"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// Config is what a simulation runs on.
type Config struct {
	// Stream gives the functions and their arrivals, a minute at a time.
	Stream trace.Stream
	// Trace, when Stream is nil, is a trace in memory to run on instead.
	Trace *trace.Trace
	// Workflows are run on top of the trace: InstancesPerWorkflow instances
	// of each, every instance invoked as one trace function is (that
	// function is then not simulated on its own).
	Workflows []*workflow.Workflow
	// InstancesPerWorkflow is how many trace functions drive each workflow
	// (default 10), chosen at evenly spaced popularity ranks among the
	// functions invoked at least once an hour on average.
	InstancesPerWorkflow int
	// Fanout is the number of elements of a foreach stage (default 4).
	Fanout int
	// StageMedian and StageSigma model a workflow stage's execution time
	// per element, log-normal (defaults 200 ms and 0.3), for every stage
	// of a workflow without StageTimes.
	StageMedian time.Duration
	StageSigma  float64
	// StageTimes are the stage models of the workflows that have their
	// own, by workflow name (see StageTimesFromProfile).
	StageTimes map[string]StageTimes
	// Interval is the planning interval (default one minute).
	Interval time.Duration
	// MaxCreatesPerFunction is the autoscaler's cap on creations per
	// decision (0: none).
	MaxCreatesPerFunction int
	// Seed makes the workflow stages' durations reproducible.
	Seed uint64
	// Parallelism is how many functions are simulated at once (default
	// GOMAXPROCS).
	Parallelism int
	// Prices are the cost model's rates for the workflows' costs (default
	// scheduler.DefaultPrices).
	Prices scheduler.Prices
}

func (c Config) withDefaults() (Config, error) {
	if c.Stream == nil && c.Trace != nil {
		c.Stream = c.Trace.Stream()
	}
	if c.Stream == nil || c.Stream.Len() == 0 || c.Stream.Minutes() <= 0 {
		return c, fmt.Errorf("simulate pre-warming: the trace is empty")
	}
	if c.InstancesPerWorkflow == 0 {
		c.InstancesPerWorkflow = 10
	}
	if c.Fanout == 0 {
		c.Fanout = 4
	}
	if c.StageMedian == 0 {
		c.StageMedian = 200 * time.Millisecond
	}
	if c.StageSigma == 0 {
		c.StageSigma = 0.3
	}
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.Prices == (scheduler.Prices{}) {
		c.Prices = scheduler.DefaultPrices()
	}
	if c.Parallelism <= 0 {
		c.Parallelism = runtime.GOMAXPROCS(0)
	}
	if c.InstancesPerWorkflow < 0 || c.Fanout < 1 || c.StageMedian < 0 || c.StageSigma < 0 || c.Interval < time.Second || c.MaxCreatesPerFunction < 0 {
		return c, fmt.Errorf("simulate pre-warming: instances per workflow %d, fanout %d, stage median %v, sigma %v, interval %v, max creates %d: want instances ≥ 0, fanout ≥ 1, median and sigma ≥ 0, interval ≥ 1s, max creates ≥ 0",
			c.InstancesPerWorkflow, c.Fanout, c.StageMedian, c.StageSigma, c.Interval, c.MaxCreatesPerFunction)
	}
	for _, w := range c.Workflows {
		if w == nil || len(w.Spec.Stages) == 0 {
			return c, fmt.Errorf("simulate pre-warming: a workflow has no stages")
		}
		if st, ok := c.StageTimes[w.Metadata.Name]; ok && len(st.Stages) != len(w.Spec.Stages) {
			return c, fmt.Errorf("simulate pre-warming: workflow %s has %d stages and %d stage times", w.Metadata.Name, len(w.Spec.Stages), len(st.Stages))
		}
	}
	return c, nil
}

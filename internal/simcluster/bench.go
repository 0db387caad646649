package simcluster

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"

	"baton.dev/baton/backoff"
	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler/decide"
)

// Targets and published reference figures of the control-plane benchmark.
const (
	// TargetPerSecond and TargetP99 are the control plane's targets on a
	// 2-core machine (Dirigent manages 2,500 creations/s): creations per second, and scheduling latency p99 at that
	// rate.
	TargetPerSecond = 10000
	TargetP99       = 5 * time.Millisecond
	// DirigentPerSecond is Dirigent's published sandbox creation rate
	// (SOSP'24, 100-node cluster); KnativePerSecond Knative's, as the
	// Dirigent paper measured it.
	DirigentPerSecond = 2500
	KnativePerSecond  = 2
	// TargetBytesPerFunction and TargetBytesPerWorker are the
	// orchestrator's memory targets: per deployed function with no
	// sandbox, and per worker.
	TargetBytesPerFunction = 2 << 10
	TargetBytesPerWorker   = 10 << 10
)

// ControlPlaneOptions configures RunControlPlane; zero fields take the
// defaults named.
type ControlPlaneOptions struct {
	// Functions is how many functions are configured; the burst and the
	// paced phase each create one sandbox for every one (10000).
	Functions int
	// Rate is the paced phase's offered load in creations/s (TargetPerSecond).
	Rate float64
	// Serial is how many creations the serial baseline makes (1000).
	Serial int
	// PlacementOps is how many Reserve+Release pairs the placement-only
	// baseline makes (10000).
	PlacementOps int
	// CPUMilli, MemoryBytes and Image are every sandbox's (250m, 128 MiB,
	// baton.local/testfn-ok:v1).
	CPUMilli    int64
	MemoryBytes int64
	Image       string
	// PhaseTimeout bounds each phase (2m).
	PhaseTimeout time.Duration
	// Settle is the pause before each phase (500ms), after a garbage
	// collection, so that no phase pays for the one before it: the
	// heartbeats queued behind a burst, the garbage it left.
	Settle time.Duration
	// HeartbeatWindow is how long the heartbeats' cost is measured, on an
	// idle control plane before the phases (2s).
	HeartbeatWindow time.Duration
	// WorkersCPU, when not nil, reads the CPU time used so far by the
	// process that runs the simulated workers and their NATS server,
	// where it is not this one: each phase then reports that process's
	// CPU per creation beside the orchestrator's, and so the machine's
	// bound on the phase's rate.
	WorkersCPU func() (time.Duration, error)
}

func (o *ControlPlaneOptions) defaults() {
	if o.Functions <= 0 {
		o.Functions = 10000
	}
	if o.Rate <= 0 {
		o.Rate = TargetPerSecond
	}
	if o.Serial <= 0 {
		o.Serial = 1000
	}
	if o.PlacementOps <= 0 {
		o.PlacementOps = 10000
	}
	if o.CPUMilli <= 0 {
		o.CPUMilli = 250
	}
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = 128 << 20
	}
	if o.Image == "" {
		o.Image = "baton.local/testfn-ok:v1"
	}
	if o.PhaseTimeout <= 0 {
		o.PhaseTimeout = 2 * time.Minute
	}
	if o.Settle <= 0 {
		o.Settle = 500 * time.Millisecond
	}
	if o.HeartbeatWindow <= 0 {
		o.HeartbeatWindow = 2 * time.Second
	}
}

// Phase is one measured way of creating sandboxes.
type Phase struct {
	Name string `json:"name"`
	// Baseline marks the in-run baselines (serial, placement-only).
	Baseline bool   `json:"baseline"`
	What     string `json:"what"`
	// Creations counts the sandboxes made (placements, for placement-only);
	// Failed the creations that failed.
	Creations int     `json:"creations"`
	Failed    int     `json:"failed"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	// OfferedPerSecond is the paced phase's offered load.
	OfferedPerSecond float64 `json:"offeredPerSecond,omitempty"`
	// Latency is the scheduling latency: from the creation decision
	// (Router.Apply) to the sandbox being ready in the orchestrator (its
	// ready event, sent once the worker's reply is decoded, just before the
	// sandbox enters its pool).
	Latency Latency `json:"latency"`
	// CPUMicros is the process's CPU time (user and system, every
	// goroutine: the orchestrator's path and its NATS client, and, when
	// they run in this process, the NATS server and the simulated
	// workers) per creation over the phase: a figure steadier than the
	// latencies on a noisy machine.
	CPUMicros float64 `json:"cpuMicrosPerCreation"`
	// WorkersCPUMicros is the CPU time per creation over the phase of the
	// simulated workers' process (its daemons, their NATS client and
	// the NATS server), where it runs apart (ControlPlaneOptions.WorkersCPU);
	// nil where it was not read.
	WorkersCPUMicros *float64 `json:"workersCpuMicrosPerCreation,omitempty"`
	// Error says why the phase did not finish (within PhaseTimeout);
	// its figures are then empty.
	Error string `json:"error,omitempty"`
}

// OrchestratorMemory is the process's memory as the cluster grew: once
// the orchestrator's side was up with no worker, once every worker had
// joined, once every function was configured (deployed, no sandbox),
// and at the end; and the differences per worker and per function.
// Where the simulated workers run in this process the per-worker
// figures count their churn too.
type OrchestratorMemory struct {
	Empty     Memory `json:"empty"`
	Workers   Memory `json:"withWorkers"`
	Functions Memory `json:"withFunctions"`
	End       Memory `json:"end"`
	// RSSPerWorker and HeapPerWorker are bytes per worker;
	// RSSPerFunction and HeapPerFunction bytes per function.
	RSSPerWorker    float64 `json:"rssBytesPerWorker"`
	HeapPerWorker   float64 `json:"heapBytesPerWorker"`
	RSSPerFunction  float64 `json:"rssBytesPerFunction"`
	HeapPerFunction float64 `json:"heapBytesPerFunction"`
}

// HeartbeatCost is what the workers' heartbeats cost the process on an
// idle control plane (every worker joined, every function configured,
// no creation): its CPU over the window, per heartbeat handled and in
// cores. Where the simulated workers run in this process it counts
// their sending too.
type HeartbeatCost struct {
	Seconds       float64 `json:"seconds"`
	Heartbeats    int64   `json:"heartbeats"`
	PerSecond     float64 `json:"perSecond"`
	CPUMicrosEach float64 `json:"cpuMicrosEach"`
	Cores         float64 `json:"cores"`
}

// Reference is a published figure printed beside the run's own.
type Reference struct {
	System    string  `json:"system"`
	PerSecond float64 `json:"perSecond"`
	Source    string  `json:"source"`
}

// ControlPlaneReport is what RunControlPlane measured.
type ControlPlaneReport struct {
	Workers    int         `json:"workers"`
	Functions  int         `json:"functions"`
	CPUs       int         `json:"cpus"`
	GOMAXPROCS int         `json:"gomaxprocs"`
	Phases     []Phase     `json:"phases"`
	Reference  []Reference `json:"reference"`
	// TargetPerSecond and TargetP99Ms are the targets; Met says
	// whether the burst reached the rate and the paced phase kept up with
	// it (at least 95% of the offered load) with p99 within the target.
	TargetPerSecond float64 `json:"targetPerSecond"`
	TargetP99Ms     float64 `json:"targetP99Ms"`
	Met             bool    `json:"met"`
	// WorkersLost counts the workers the orchestrator's sweep declared
	// dead during the run: nothing dies in a simulation, so each is a
	// heartbeat that was processed too late.
	WorkersLost int64 `json:"workersLost"`
	// WorkersInProcess: the simulated workers and the NATS server ran in
	// the orchestrator's process, and its CPU and memory figures count
	// them.
	WorkersInProcess bool               `json:"workersInProcess"`
	Memory           OrchestratorMemory `json:"orchestratorMemory"`
	Heartbeats       HeartbeatCost      `json:"heartbeats"`
	// TargetBytesPerFunction and TargetBytesPerWorker are the memory
	// targets; MemoryMet says whether the resident memory per function
	// and per worker kept within them (measured with the workers in a
	// process of their own only).
	TargetBytesPerFunction float64 `json:"targetBytesPerFunction"`
	TargetBytesPerWorker   float64 `json:"targetBytesPerWorker"`
	MemoryMet              bool    `json:"memoryMet"`
}

// RunControlPlane measures sandbox creations through the cluster's
// orchestrator path (Router.Apply → placement → NATS request/reply to a
// worker daemon → fake runtime → reply → pool), in four phases on the same
// cluster: a burst of one creation for every function at once (the
// saturation rate), the same creations paced at opts.Rate (the scheduling
// latency at that load), and two in-run baselines: the same path one
// creation at a time (serial), and placement alone (Workers.Reserve and
// Release, no NATS).
func RunControlPlane(ctx context.Context, c *Cluster, opts ControlPlaneOptions) (rep *ControlPlaneReport, err error) {
	opts.defaults()
	rep = &ControlPlaneReport{
		Workers: c.Size(), Functions: opts.Functions, CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		TargetPerSecond: TargetPerSecond, TargetP99Ms: ms(TargetP99), WorkersInProcess: c.WorkersInProcess(),
		TargetBytesPerFunction: TargetBytesPerFunction, TargetBytesPerWorker: TargetBytesPerWorker,
		Reference: []Reference{
			{System: "Dirigent", PerSecond: DirigentPerSecond, Source: "published (SOSP'24), 100-node cluster"},
			{System: "Knative", PerSecond: KnativePerSecond, Source: "published (as measured in the Dirigent paper)"},
		},
	}
	keys := make([]string, opts.Functions)
	for i := range keys {
		keys[i] = orchestrator.FunctionKey("bench", "controlplane", fmt.Sprintf("fn-%05d", i))
		c.Router.Configure(orchestrator.FunctionConfig{Key: keys[i], Image: opts.Image, CPUMilli: opts.CPUMilli, MemoryBytes: opts.MemoryBytes})
	}
	mem := &rep.Memory
	mem.Empty, mem.Workers, mem.Functions = c.memEmpty, c.memWorkers, measureMemory()
	mem.RSSPerWorker = float64(mem.Workers.RSSBytes-mem.Empty.RSSBytes) / float64(c.Size())
	mem.HeapPerWorker = float64(mem.Workers.HeapBytes-mem.Empty.HeapBytes) / float64(c.Size())
	mem.RSSPerFunction = float64(mem.Functions.RSSBytes-mem.Workers.RSSBytes) / float64(opts.Functions)
	mem.HeapPerFunction = float64(mem.Functions.HeapBytes-mem.Workers.HeapBytes) / float64(opts.Functions)
	rep.MemoryMet = !rep.WorkersInProcess && mem.RSSPerWorker <= TargetBytesPerWorker && mem.RSSPerFunction <= TargetBytesPerFunction
	if err := settle(ctx, opts.Settle); err != nil {
		return rep, err
	}
	if rep.Heartbeats, err = heartbeatCost(ctx, c, opts.HeartbeatWindow); err != nil {
		return rep, err
	}
	steps := []struct {
		name string
		run  func(context.Context, *Cluster, []string, ControlPlaneOptions) (Phase, error)
	}{{"burst", burst}, {"paced", paced}, {"serial", serial}, {"placement-only", placementOnly}}
	for _, step := range steps {
		if err := settle(ctx, opts.Settle); err != nil {
			return rep, err
		}
		pctx, cancel := context.WithTimeout(ctx, opts.PhaseTimeout)
		cpu0, wcpu0, werr := processCPU(), time.Duration(0), error(nil)
		if opts.WorkersCPU != nil {
			wcpu0, werr = opts.WorkersCPU()
		}
		ph, err := step.run(pctx, c, keys, opts)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return rep, err
			}
			// A phase that did not finish is a figure too (how far it
			// got); the phases after it still measure.
			ph = Phase{Name: step.name, Error: err.Error()}
		}
		if ph.Creations > 0 {
			ph.CPUMicros = float64((processCPU() - cpu0).Microseconds()) / float64(ph.Creations)
			if opts.WorkersCPU != nil && werr == nil {
				if wcpu, err := opts.WorkersCPU(); err == nil {
					us := float64((wcpu - wcpu0).Microseconds()) / float64(ph.Creations)
					ph.WorkersCPUMicros = &us
				}
			}
		}
		rep.Phases = append(rep.Phases, ph)
	}
	rep.WorkersLost = c.WorkersLost()
	mem.End = measureMemory()
	b, p := rep.Phases[0], rep.Phases[1]
	rep.Met = rep.WorkersLost == 0 && b.Error == "" && p.Error == "" && b.Failed == 0 && p.Failed == 0 && b.PerSecond >= TargetPerSecond &&
		p.PerSecond >= 0.95*p.OfferedPerSecond && p.OfferedPerSecond >= TargetPerSecond && p.Latency.P99Ms <= ms(TargetP99)
	return rep, nil
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heartbeatCost measures the process's CPU over window against the
// heartbeats it handled meanwhile.
func heartbeatCost(ctx context.Context, c *Cluster, window time.Duration) (HeartbeatCost, error) {
	cpu0, n0, t0 := processCPU(), c.heartbeats.Load(), time.Now()
	if err := backoff.Sleep(ctx, window); err != nil {
		return HeartbeatCost{}, fmt.Errorf("heartbeat cost: %w", err)
	}
	cpu, n, secs := processCPU()-cpu0, c.heartbeats.Load()-n0, time.Since(t0).Seconds()
	hc := HeartbeatCost{Seconds: secs, Heartbeats: n, PerSecond: float64(n) / secs, Cores: cpu.Seconds() / secs}
	if n > 0 {
		hc.CPUMicrosEach = float64(cpu.Microseconds()) / float64(n)
	}
	return hc, nil
}

// settle collects garbage and waits d, as testing.B collects before
// each benchmark: each phase starts from a quiet cluster.
func settle(ctx context.Context, d time.Duration) error {
	runtime.GC()
	return backoff.Sleep(ctx, d)
}

// burst asks for one sandbox of every function in one plan.
func burst(ctx context.Context, c *Cluster, keys []string, _ ControlPlaneOptions) (Phase, error) {
	rec := c.record(len(keys))
	defer c.events.Store(nil)
	plan := decide.ScalePlan{Create: make(map[string]int, len(keys))}
	for _, k := range keys {
		plan.Create[k] = 1
	}
	start := time.Now()
	rec.expect(keys, start)
	c.Router.Apply(plan)
	if err := rec.wait(ctx); err != nil {
		return Phase{}, fmt.Errorf("burst: %w", err)
	}
	return rec.phase("burst", false, "one creation for each function, all in one plan", start), nil
}

// paced asks for one sandbox of every function, spread evenly at
// opts.Rate, in plans made every millisecond.
func paced(ctx context.Context, c *Cluster, keys []string, opts ControlPlaneOptions) (Phase, error) {
	rec := c.record(len(keys))
	defer c.events.Store(nil)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for sent := 0; sent < len(keys); {
		now := time.Now()
		due := min(len(keys), int(now.Sub(start).Seconds()*opts.Rate)+1)
		if due > sent {
			plan := decide.ScalePlan{Create: make(map[string]int, due-sent)}
			for _, k := range keys[sent:due] {
				plan.Create[k] = 1
			}
			rec.expect(keys[sent:due], now)
			c.Router.Apply(plan)
			sent = due
		}
		select {
		case <-ctx.Done():
			return Phase{}, fmt.Errorf("paced: %w", ctx.Err())
		case <-tick.C:
		}
	}
	if err := rec.wait(ctx); err != nil {
		return Phase{}, fmt.Errorf("paced: %w", err)
	}
	ph := rec.phase("paced", false, fmt.Sprintf("one creation for each function, offered at %.0f/s", opts.Rate), start)
	ph.OfferedPerSecond = opts.Rate
	return ph, nil
}

// serial makes opts.Serial creations through the same path, each waiting
// for the one before: the latency of one creation on an idle control plane.
func serial(ctx context.Context, c *Cluster, keys []string, opts ControlPlaneOptions) (Phase, error) {
	n := min(opts.Serial, len(keys))
	var lat []time.Duration
	failed := 0
	start := time.Now()
	for _, k := range keys[:n] {
		rec := c.record(1)
		t := time.Now()
		rec.expect([]string{k}, t)
		c.Router.Apply(decide.ScalePlan{Create: map[string]int{k: 1}})
		if err := rec.wait(ctx); err != nil {
			c.events.Store(nil)
			return Phase{}, fmt.Errorf("serial: %w", err)
		}
		lat = append(lat, rec.lat...)
		failed += rec.failed
	}
	c.events.Store(nil)
	secs := time.Since(start).Seconds()
	return Phase{
		Name: "serial", Baseline: true, What: "the same path, one creation at a time",
		Creations: n - failed, Failed: failed, Seconds: secs, PerSecond: float64(n-failed) / secs, Latency: Summarize(lat),
	}, nil
}

// placementOnly times Workers.Reserve (snapshot and Place over every live
// worker) and Release, one pair at a time, with no NATS and no runtime.
func placementOnly(ctx context.Context, c *Cluster, _ []string, opts ControlPlaneOptions) (Phase, error) {
	req := decide.PlacementRequest{CPUMilli: opts.CPUMilli, MemoryBytes: opts.MemoryBytes}
	lat := make([]time.Duration, 0, opts.PlacementOps)
	start := time.Now()
	for range opts.PlacementOps {
		if err := ctx.Err(); err != nil {
			return Phase{}, fmt.Errorf("placement-only: %w", err)
		}
		t := time.Now()
		id, err := c.Workers.Reserve(req, t)
		if err != nil {
			return Phase{}, fmt.Errorf("placement-only: %w", err)
		}
		lat = append(lat, time.Since(t))
		c.Workers.Release(id, req)
	}
	secs := time.Since(start).Seconds()
	return Phase{
		Name: "placement-only", Baseline: true, What: fmt.Sprintf("Workers.Reserve+Release over %d live workers, no NATS", c.Size()),
		Creations: opts.PlacementOps, Seconds: secs, PerSecond: float64(opts.PlacementOps) / secs, Latency: Summarize(lat),
	}, nil
}

// recorder matches the Router's sandbox events to the creations a phase
// asked for.
type recorder struct {
	mu      sync.Mutex
	pending map[string]time.Time // function key → when its creation was asked
	lat     []time.Duration
	failed  int
	want    int
	last    time.Time
	done    chan struct{}
}

// record installs a recorder expecting want sandbox outcomes.
func (c *Cluster) record(want int) *recorder {
	rec := &recorder{pending: make(map[string]time.Time, want), lat: make([]time.Duration, 0, want), want: want, done: make(chan struct{})}
	f := rec.observe
	c.events.Store(&f)
	return rec
}

func (r *recorder) expect(keys []string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		r.pending[k] = at
	}
}

func (r *recorder) observe(ev history.SandboxEvent) {
	if ev.Event != history.SandboxReady && ev.Event != history.SandboxFailed {
		return
	}
	key := orchestrator.FunctionKey(ev.Tenant, ev.Workflow, ev.Function)
	r.mu.Lock()
	defer r.mu.Unlock()
	asked, ok := r.pending[key]
	if !ok {
		return
	}
	delete(r.pending, key)
	if ev.Event == history.SandboxReady {
		r.lat = append(r.lat, ev.At.Sub(asked))
	} else {
		r.failed++
	}
	if ev.At.After(r.last) {
		r.last = ev.At
	}
	if len(r.lat)+r.failed == r.want {
		close(r.done)
	}
}

func (r *recorder) wait(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.mu.Lock()
		defer r.mu.Unlock()
		return fmt.Errorf("%d of %d creations finished: %w", len(r.lat)+r.failed, r.want, ctx.Err())
	}
}

// phase summarises a finished recorder; its time runs from start to the
// last sandbox ready.
func (r *recorder) phase(name string, baseline bool, what string, start time.Time) Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	secs := r.last.Sub(start).Seconds()
	return Phase{
		Name: name, Baseline: baseline, What: what, Creations: len(r.lat), Failed: r.failed,
		Seconds: secs, PerSecond: float64(len(r.lat)) / secs, Latency: Summarize(r.lat),
	}
}

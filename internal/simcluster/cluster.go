// Package simcluster runs a simulated Baton cluster, FOR SCALE SIMULATION
// ONLY: a fleet of simulated workers (one embedded NATS server, N real
// worker daemons (worker/daemon) each on its own NATS connection and its
// own fake runtime (worker/fake)), and the orchestrator's real
// control-plane path (orchestrator.Workers fed by the daemons'
// heartbeats, and an orchestrator.Router whose creations go through
// placement, NATS request/reply and its in-memory pools). Only the
// sandboxes are fake. The fleet runs in the orchestrator's process
// (Start) or in a process of its own (StartFleet there, Start with
// Config.NATSURL here), so that what is measured is the orchestrator's
// alone. It backs `baton bench controlplane`.
package simcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"baton.dev/baton/backoff"
	"baton.dev/baton/internal/natsd"
	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/worker/daemon"
	"baton.dev/baton/worker/fake"
	"baton.dev/baton/worker/protocol"
)

// Defaults for Config fields left zero.
const (
	DefaultWorkerCPUMilli    = 16000    // 16 cores per simulated worker
	DefaultWorkerMemoryBytes = 64 << 30 // 64 GiB per simulated worker
)

// Config configures a simulated cluster.
type Config struct {
	// Workers is how many worker daemons to run (at least 1).
	Workers int
	// WorkerCPUMilli and WorkerMemoryBytes are each worker's capacity.
	WorkerCPUMilli    int64
	WorkerMemoryBytes int64
	// CreateLatency is each fake sandbox creation's sleep (default 0).
	CreateLatency time.Duration
	// HeartbeatInterval is the daemons' (default: the daemon's, 200ms).
	HeartbeatInterval time.Duration
	// FullHeartbeatEvery is the daemons' (daemon.Config): above 1, short
	// Beats between full heartbeats while nothing changes.
	FullHeartbeatEvery int
	// WorkersPerConnection is how many daemons share one NATS connection
	// in the fleet (0 or 1: one each, as on a real cluster). Sharing
	// changes nothing the orchestrator receives (the same messages on
	// the same subjects) and spares the simulation's own process the
	// cost of a connection per worker, which at 10,000 workers starved
	// it on this 2-core machine.
	WorkersPerConnection int
	// Images the fake runtimes have (default fake.DefaultImages()).
	Images map[string]fake.Mode
	// Logger receives the components' logs (default: discarded).
	Logger *slog.Logger
	// Standbys, above 0, makes the control plane the leader of that many
	// more orchestrator replicas, warm standbys (startStandbys) in the
	// orchestrator's process.
	Standbys int
	// NATSURL, when set, is the NATS server of a fleet of Workers
	// simulated workers running elsewhere (StartFleet, in another
	// process): Start then runs only the orchestrator's side, connected
	// to it over TCP, and the fields above but Workers and Logger are the
	// fleet's business.
	NATSURL string
	// Listen has StartFleet's NATS server take TCP connections (on a
	// free port of 127.0.0.1), for an orchestrator in another process.
	Listen bool
}

func (cfg *Config) defaults() error {
	if cfg.Workers < 1 {
		return fmt.Errorf("simcluster: %d workers: want at least 1", cfg.Workers)
	}
	if cfg.WorkerCPUMilli <= 0 {
		cfg.WorkerCPUMilli = DefaultWorkerCPUMilli
	}
	if cfg.WorkerMemoryBytes <= 0 {
		cfg.WorkerMemoryBytes = DefaultWorkerMemoryBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// stopper runs a component's closers in reverse, once.
type stopper struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closers []func() error // run in reverse by stop
	once    sync.Once
	err     error
}

// stop cancels the component's goroutines, waits for them, and runs the
// closers in reverse; before, if not nil, runs first.
func (s *stopper) stop(before func()) error {
	s.once.Do(func() {
		if before != nil {
			before()
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			if err := s.closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		s.err = errors.Join(errs...)
	})
	return s.err
}

// Fleet is a running fleet of simulated workers: a NATS server and the
// worker daemons on their fake runtimes, FOR SCALE SIMULATION ONLY.
type Fleet struct {
	cfg Config
	dir string
	ns  *server.Server
	stopper
}

// StartFleet runs NATS and cfg.Workers worker daemons, which start to
// send heartbeats at once. Stop ends them.
func StartFleet(ctx context.Context, cfg Config) (f *Fleet, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f = &Fleet{cfg: cfg, stopper: stopper{cancel: cancel}}
	defer func() {
		if err != nil {
			_ = f.Stop()
			f = nil
		}
	}()
	if f.dir, err = os.MkdirTemp("", "baton-simcluster-"); err != nil {
		return f, fmt.Errorf("simcluster: %w", err)
	}
	f.closers = append(f.closers, func() error { return os.RemoveAll(f.dir) })
	if f.ns, err = natsd.Start(natsd.Config{Dir: f.dir, Port: -1, Private: !cfg.Listen}); err != nil {
		return f, fmt.Errorf("simcluster: %w", err)
	}
	f.closers = append(f.closers, func() error { f.ns.Shutdown(); f.ns.WaitForShutdown(); return nil })
	var nc *nats.Conn
	for i := range cfg.Workers {
		id := fmt.Sprintf("sim-%05d", i)
		if i%max(1, cfg.WorkersPerConnection) == 0 {
			if nc, err = f.connect(id); err != nil {
				return f, err
			}
		}
		if err := f.startWorker(runCtx, id, nc); err != nil {
			return f, err
		}
	}
	return f, nil
}

// URL is where an orchestrator in another process reaches the fleet's
// NATS server (with Config.Listen).
func (f *Fleet) URL() string { return f.ns.ClientURL() }

// connect opens one in-process NATS connection (no socket) to the
// fleet's server, closed by Stop: on a real cluster each worker's socket
// calls are made on its own machine, and 1000 loopback sockets here cost
// this machine more CPU than the control plane it measures (over TCP the
// paced phase was CPU-bound and its p99 several times higher).
func (f *Fleet) connect(name string) (*nats.Conn, error) {
	// The handshake's deadline is generous: with thousands of workers
	// already beating on a loaded machine, the default 2 s was missed
	// while starting 10,000.
	nc, err := nats.Connect(f.ns.ClientURL(), nats.Name(name), nats.InProcessServer(f.ns), nats.Timeout(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("simcluster: connect %s to NATS: %w", name, err)
	}
	f.closers = append(f.closers, func() error { nc.Close(); return nil })
	return nc, nil
}

// startWorker runs one daemon on connection nc with its own fake
// runtime.
func (f *Fleet) startWorker(ctx context.Context, id string, nc *nats.Conn) error {
	rt, err := fake.Open(fake.Config{Images: f.cfg.Images, CreateLatency: f.cfg.CreateLatency})
	if err != nil {
		return fmt.Errorf("simcluster: worker %s: %w", id, err)
	}
	f.closers = append(f.closers, rt.Close)
	cfg := daemon.Config{
		ID: id, Conn: nc, Runtime: rt, CPUMilli: f.cfg.WorkerCPUMilli, MemoryBytes: f.cfg.WorkerMemoryBytes,
		HeartbeatInterval: f.cfg.HeartbeatInterval, FullHeartbeatEvery: f.cfg.FullHeartbeatEvery, Logger: f.cfg.Logger,
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		// A daemon that stops is started again, as a worker's supervisor
		// would: starting 10,000 on a loaded machine, some missed the
		// deadline of their first flush to NATS.
		for {
			err := daemon.New(cfg).Run(ctx)
			if err == nil || ctx.Err() != nil {
				return
			}
			f.cfg.Logger.Error("simulated worker stopped; starting it again in a second", "worker", id, "err", err)
			if backoff.Sleep(ctx, time.Second) != nil {
				return
			}
		}
	}()
	return nil
}

// Stop ends the workers (after their requests in flight) and NATS, and
// removes the fleet's temporary directory. Stopping twice is not an
// error.
func (f *Fleet) Stop() error { return f.stop(nil) }

// Cluster is a running simulated cluster: the orchestrator's side, and
// the fleet when it runs in this process.
type Cluster struct {
	// Workers is the orchestrator's worker table and placement.
	Workers *orchestrator.Workers
	// Router is the orchestrator's data plane; its Apply starts sandbox
	// creations through placement and NATS.
	Router *orchestrator.Router

	cfg        Config
	fleet      *Fleet // nil: the fleet runs in another process
	nc         *nats.Conn
	hbSub      *nats.Subscription
	events     atomic.Pointer[func(history.SandboxEvent)]
	unknown    atomic.Int64 // heartbeats that would have started an adoption
	lost       atomic.Int64 // workers declared dead by the sweep
	heartbeats atomic.Int64 // heartbeats handled
	// memEmpty and memWorkers are the process's memory once the
	// orchestrator's side was up but had heard no heartbeat, and once
	// every worker had joined.
	memEmpty, memWorkers Memory
	stopper
}

// Start runs the orchestrator's control plane, and the fleet of workers
// in this process unless cfg.NATSURL names one running elsewhere, and
// returns once every worker's heartbeat has been seen. Stop ends it all.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c = &Cluster{cfg: cfg, stopper: stopper{cancel: cancel}}
	defer func() {
		if err != nil {
			_ = c.Stop()
			c = nil
		}
	}()
	if cfg.NATSURL == "" {
		if c.fleet, err = StartFleet(ctx, cfg); err != nil {
			return c, err
		}
		c.closers = append(c.closers, c.fleet.Stop)
		c.nc, err = c.fleet.connect("baton-sim-orchestrator")
	} else {
		c.nc, err = nats.Connect(cfg.NATSURL, nats.Name("baton-sim-orchestrator"), nats.Timeout(time.Minute),
			nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
				subject := ""
				if sub != nil {
					subject = sub.Subject
				}
				cfg.Logger.Warn("orchestrator's NATS connection", "subject", subject, "err", err)
			}),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				cfg.Logger.Warn("orchestrator's NATS connection lost", "err", err)
			}))
		if err == nil {
			c.closers = append(c.closers, func() error { c.nc.Close(); return nil })
		}
	}
	if err != nil {
		return c, fmt.Errorf("simcluster: connect the orchestrator to NATS: %w", err)
	}

	c.Workers = orchestrator.NewWorkers(c.nc)
	c.Router = orchestrator.NewRouter(runCtx, c.Workers, orchestrator.RouterConfig{
		Logger: cfg.Logger,
		Events: func(ev history.SandboxEvent) {
			if f := c.events.Load(); f != nil {
				(*f)(ev)
			}
		},
	})
	c.memEmpty = measureMemory()
	if c.hbSub, err = c.nc.Subscribe(protocol.HeartbeatSubjects, func(m *nats.Msg) {
		received := time.Now()
		c.heartbeats.Add(1)
		h, err := c.Workers.Heard(m.Subject, m.Data, received)
		// As the orchestrator's own handler does: a new worker, or one
		// with sandboxes the router does not know, would be asked for its
		// list (the simulation only counts them: a fresh fake has none).
		if err == nil && h.Full && (h.Fresh || h.Heartbeat.Sandboxes > c.Router.CountOn(h.Heartbeat.WorkerID)) {
			c.unknown.Add(1)
		}
	}); err != nil {
		return c, fmt.Errorf("simcluster: subscribe to heartbeats: %w", err)
	}
	if err := orchestrator.HoldHeartbeatBacklog(c.hbSub); err != nil {
		return c, fmt.Errorf("simcluster: %w", err)
	}
	c.closers = append(c.closers, func() error { _ = c.hbSub.Unsubscribe(); return nil })

	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		orchestrator.SweepWorkers(runCtx, c.Workers, c.Router, c.hbSub, func(id string, sandboxes int) {
			c.lost.Add(1)
			c.cfg.Logger.Warn("simulated worker declared dead: its heartbeats stopped or were processed late", "worker", id, "sandboxes", sandboxes)
		})
	}()
	if cfg.Standbys > 0 {
		if err := c.startStandbys(runCtx); err != nil {
			return c, err
		}
	}
	if err := c.waitForWorkers(ctx); err != nil {
		return c, err
	}
	c.memWorkers = measureMemory()
	return c, nil
}

// waitForWorkers blocks until the orchestrator's table has every worker.
func (c *Cluster) waitForWorkers(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		live := c.Workers.Live(time.Now())
		if live >= c.cfg.Workers {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("simcluster: waiting for %d workers' heartbeats (have %d): %w", c.cfg.Workers, live, ctx.Err())
		case <-t.C:
		}
	}
}

// WorkersLost counts the workers the sweep declared dead since Start. In
// a simulation nothing dies, so any is a heartbeat processed too late.
func (c *Cluster) WorkersLost() int64 { return c.lost.Load() }

// Size is the number of workers the cluster runs.
func (c *Cluster) Size() int { return c.cfg.Workers }

// WorkersInProcess reports whether the fleet runs in this process.
func (c *Cluster) WorkersInProcess() bool { return c.fleet != nil }

// Stop ends the control plane, and the workers and NATS when they run in
// this process, and removes the cluster's temporary directory. Stopping
// twice is not an error.
func (c *Cluster) Stop() error {
	return c.stop(func() {
		if c.Router != nil {
			c.Router.Wait() // creations and deletions end while the workers still answer
		}
	})
}

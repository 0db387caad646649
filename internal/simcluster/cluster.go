// Package simcluster runs a simulated Baton cluster in one process, FOR
// SCALE SIMULATION ONLY: one embedded NATS server, N real worker daemons
// (worker/daemon) each on its own NATS connection and its own fake
// runtime (worker/fake), and the orchestrator's real control-plane path
// (orchestrator.Workers fed by the daemons' heartbeats, and an
// orchestrator.Router whose creations go through placement, NATS
// request/reply and its in-memory pools). Only the sandboxes are fake. It
// backs `baton bench controlplane`.
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
	// HeartbeatInterval is the daemons' (default: the daemon's, 250ms).
	HeartbeatInterval time.Duration
	// Images the fake runtimes have (default fake.DefaultImages()).
	Images map[string]fake.Mode
	// Logger receives the components' logs (default: discarded).
	Logger *slog.Logger
	// Standbys, above 0, makes the control plane the leader of that many
	// more orchestrator replicas, warm standbys (startStandbys).
	Standbys int
}

// Cluster is a running simulated cluster.
type Cluster struct {
	// Workers is the orchestrator's worker table and placement.
	Workers *orchestrator.Workers
	// Router is the orchestrator's data plane; its Apply starts sandbox
	// creations through placement and NATS.
	Router *orchestrator.Router

	cfg     Config
	dir     string
	ns      *server.Server
	nc      *nats.Conn
	hbSub   *nats.Subscription
	events  atomic.Pointer[func(history.SandboxEvent)]
	unknown atomic.Int64 // heartbeats that would have started an adoption
	lost    atomic.Int64 // workers declared dead by the sweep
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closers []func() error // run in reverse by Stop
	stop    sync.Once
	stopErr error
}

// Start runs NATS, the workers and the orchestrator's control plane, and
// returns once every worker's heartbeat has been seen. Stop ends it all.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.Workers < 1 {
		return nil, fmt.Errorf("simcluster: %d workers: want at least 1", cfg.Workers)
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
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c = &Cluster{cfg: cfg, cancel: cancel}
	defer func() {
		if err != nil {
			_ = c.Stop()
			c = nil
		}
	}()
	if c.dir, err = os.MkdirTemp("", "baton-simcluster-"); err != nil {
		return c, fmt.Errorf("simcluster: %w", err)
	}
	c.closers = append(c.closers, func() error { return os.RemoveAll(c.dir) })
	if c.ns, err = natsd.Start(natsd.Config{Dir: c.dir}); err != nil {
		return c, fmt.Errorf("simcluster: %w", err)
	}
	c.closers = append(c.closers, func() error { c.ns.Shutdown(); c.ns.WaitForShutdown(); return nil })
	if c.nc, err = c.connect("baton-sim-orchestrator"); err != nil {
		return c, err
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
	if c.hbSub, err = c.nc.Subscribe(protocol.HeartbeatSubjects, func(m *nats.Msg) {
		hb, err := protocol.DecodeHeartbeat(m.Subject, m.Data)
		if err != nil {
			return
		}
		// As the orchestrator's own handler does: a new worker, or one
		// with sandboxes the router does not know, would be asked for its
		// list (the simulation only counts them: a fresh fake has none).
		if fresh, _ := c.Workers.Observe(hb, time.Now()); fresh || hb.Sandboxes > c.Router.CountOn(hb.WorkerID) {
			c.unknown.Add(1)
		}
	}); err != nil {
		return c, fmt.Errorf("simcluster: subscribe to heartbeats: %w", err)
	}

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
	for i := range cfg.Workers {
		if err := c.startWorker(runCtx, fmt.Sprintf("sim-%05d", i)); err != nil {
			return c, err
		}
	}
	return c, c.waitForWorkers(ctx)
}

// connect opens one NATS connection to the embedded server, closed by
// Stop. It is in-process (no socket), as `baton up` connects to its
// embedded server: on a real cluster each worker's socket calls are made
// on its own machine, and 1000 loopback sockets here cost this machine
// more CPU than the control plane it measures (over TCP the paced phase
// was CPU-bound and its p99 several times higher).
func (c *Cluster) connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect(c.ns.ClientURL(), nats.Name(name), nats.InProcessServer(c.ns))
	if err != nil {
		return nil, fmt.Errorf("simcluster: connect %s to NATS: %w", name, err)
	}
	c.closers = append(c.closers, func() error { nc.Close(); return nil })
	return nc, nil
}

// startWorker runs one daemon with its own connection and fake runtime.
func (c *Cluster) startWorker(ctx context.Context, id string) error {
	rt, err := fake.Open(fake.Config{Images: c.cfg.Images, CreateLatency: c.cfg.CreateLatency})
	if err != nil {
		return fmt.Errorf("simcluster: worker %s: %w", id, err)
	}
	c.closers = append(c.closers, rt.Close)
	nc, err := c.connect(id)
	if err != nil {
		return err
	}
	d := daemon.New(daemon.Config{
		ID: id, Conn: nc, Runtime: rt, CPUMilli: c.cfg.WorkerCPUMilli, MemoryBytes: c.cfg.WorkerMemoryBytes,
		HeartbeatInterval: c.cfg.HeartbeatInterval, Logger: c.cfg.Logger,
	})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := d.Run(ctx); err != nil {
			c.cfg.Logger.Error("simulated worker stopped", "worker", id, "err", err)
		}
	}()
	return nil
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

// Stop ends the workers, the control plane and NATS, and removes the
// cluster's temporary directory. Stopping twice is not an error.
func (c *Cluster) Stop() error {
	c.stop.Do(func() {
		if c.Router != nil {
			c.Router.Wait() // creations and deletions end while the workers still answer
		}
		c.cancel()
		c.wg.Wait() // daemons end after their requests in flight
		var errs []error
		if c.hbSub != nil {
			_ = c.hbSub.Unsubscribe()
		}
		for i := len(c.closers) - 1; i >= 0; i-- {
			if err := c.closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

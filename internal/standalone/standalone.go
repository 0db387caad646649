// Package standalone runs a whole Baton in one process — an embedded NATS
// server, the orchestrator, and workers with their sandbox runtime — as
// `baton up` does and as the end-to-end tests do.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/natsd"
	"baton.dev/baton/internal/pgserver"
	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/worker"
	ctrd "baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/daemon"
	"baton.dev/baton/worker/process"
)

// Runtime choices.
const (
	RuntimeAuto       = "auto" // containerd if installed, else process
	RuntimeContainerd = "containerd"
	RuntimeProcess    = "process"
)

// Config configures a standalone Baton.
type Config struct {
	// DataDir holds NATS's JetStream store, containerd's root and state,
	// the sandbox network state and the API key hashes.
	DataDir string
	// Listen is the API's address (default 127.0.0.1:8080; port 0 picks one).
	Listen string
	// Runtime is auto, containerd or process.
	Runtime string
	// ContainerdAddress names a running containerd to use instead of
	// starting a private one.
	ContainerdAddress string
	// ImagesDir holds the function images (OCI or Docker archives) the
	// worker imports.
	ImagesDir string
	// Subnet of the sandbox bridge (default 10.177.0.0/16).
	Subnet string
	// Token is an API key the caller already holds (from the client
	// config); it is kept if the data directory knows it, else a new one
	// is made.
	Token string
	// AdminToken is the admin key the caller already holds, kept the same
	// way.
	AdminToken string
	// Postgres is where history goes: "" or "auto" runs a private Postgres
	// in DataDir/postgres when the server binaries are installed (else
	// history is off, said loudly), "off" turns history off, anything else
	// is a connection URL.
	Postgres string
	// KeepAlive, HealthTimeout and AutoscaleTick are the orchestrator's.
	KeepAlive     time.Duration
	HealthTimeout time.Duration
	AutoscaleTick time.Duration
	Logger        *slog.Logger
}

// Cluster is a running standalone Baton.
type Cluster struct {
	// URL is the API's base URL; Token is the default tenant's API key;
	// AdminToken the admin key (creates tenants).
	URL, Token, AdminToken string
	// History says where history goes ("off", or the Postgres URL);
	// Postgres is the private server when this cluster runs one.
	History  string
	Postgres *pgserver.Server
	// Runtime is the sandbox runtime in use; ContainerdAddress the socket
	// of the containerd it uses, when it is containerd.
	Runtime           string
	ContainerdAddress string
	Orchestrator      *orchestrator.Orchestrator

	log      *slog.Logger
	stops    []func(context.Context) error // run in reverse on Stop
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
}

// Start brings everything up and returns when the API serves and the
// worker has reported. On error, whatever was started is stopped again.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("standalone: a data directory is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("standalone: data directory: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c = &Cluster{log: cfg.Logger, cancel: cancel}
	defer func() {
		if err != nil {
			_ = c.Stop(context.WithoutCancel(ctx))
			c = nil
		}
	}()

	ns, err := natsd.Start(natsd.Config{Dir: filepath.Join(cfg.DataDir, "nats")})
	if err != nil {
		return c, fmt.Errorf("standalone: %w", err)
	}
	c.onStop(func(context.Context) error { ns.Shutdown(); ns.WaitForShutdown(); return nil })
	nc, err := connect(ns)
	if err != nil {
		return c, err
	}
	c.onStop(func(context.Context) error { nc.Close(); return nil })

	rt, err := c.openRuntime(ctx, cfg)
	if err != nil {
		return c, err
	}
	cpu, mem := capacity()
	d := daemon.New(daemon.Config{ID: "local-1", Conn: nc, Runtime: rt, CPUMilli: cpu, MemoryBytes: mem, Logger: cfg.Logger})
	dCtx, stopD := context.WithCancel(runCtx)
	dDone := make(chan struct{})
	go func() { defer close(dDone); _ = d.Run(dCtx) }()
	c.onStop(func(context.Context) error { stopD(); <-dDone; return nil })
	// Runs before the daemon stops: every sandbox goes, then the daemon.
	c.onStop(func(ctx context.Context) error { return d.DeleteAll(ctx) })

	keys, token, admin, err := loadKeys(cfg.DataDir, cfg.Token, cfg.AdminToken)
	if err != nil {
		return c, err
	}
	c.Token, c.AdminToken = token, admin
	hist, err := c.openHistory(ctx, runCtx, cfg)
	if err != nil {
		return c, err
	}
	orc, err := orchestrator.New(ctx, orchestrator.Config{
		Conn: nc, Keys: keys, KeepAlive: cfg.KeepAlive, HealthTimeout: cfg.HealthTimeout,
		AutoscaleTick: cfg.AutoscaleTick, History: hist, Logger: cfg.Logger,
	})
	if err != nil {
		return c, err
	}
	c.Orchestrator = orc
	orcCtx, stopOrc := context.WithCancel(runCtx)
	orcDone := make(chan struct{})
	go func() { defer close(orcDone); _ = orc.Run(orcCtx) }()
	// Stopped before the worker's sandboxes are deleted, so that no
	// creation races the sweep.
	c.onStop(func(context.Context) error { stopOrc(); <-orcDone; return nil })

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return c, fmt.Errorf("standalone: listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: orc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	c.goRun(func() { _ = srv.Serve(ln) })
	c.onStop(func(ctx context.Context) error { return srv.Shutdown(ctx) })
	c.URL = "http://" + ln.Addr().String()

	wait, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	if err := orc.WaitForWorkers(wait, 1); err != nil {
		return c, fmt.Errorf("standalone: %w", err)
	}
	return c, nil
}

// openHistory starts or connects to Postgres as cfg.Postgres says and
// starts the history writer; nil means history is off.
func (c *Cluster) openHistory(ctx, runCtx context.Context, cfg Config) (*history.History, error) {
	url := cfg.Postgres
	switch url {
	case "off":
		c.History = "off"
		c.log.Warn("history is off (--postgres off): reports will have no figures")
		return nil, nil
	case "", "auto":
		if _, err := pgserver.FindBinaries(); err != nil {
			c.History = "off"
			c.log.Warn("HISTORY IS OFF: the Postgres server binaries are not installed; reports will have no figures. `make deps` installs them, or pass --postgres URL", "err", err)
			return nil, nil
		}
		srv, err := pgserver.Start(ctx, pgserver.Config{Dir: filepath.Join(cfg.DataDir, "postgres"), Logger: c.log})
		if err != nil {
			return nil, fmt.Errorf("standalone: %w", err)
		}
		c.onStop(srv.Stop)
		c.Postgres = srv
		url = srv.URL()
	}
	h, err := history.Open(ctx, url, history.DefaultPrices(), history.WriterConfig{Logger: c.log})
	if err != nil {
		return nil, fmt.Errorf("standalone: %w", err)
	}
	hctx, stopH := context.WithCancel(runCtx)
	done := make(chan struct{})
	go func() { defer close(done); h.Run(hctx, 10*time.Second) }()
	// Registered before the orchestrator's stop, so it runs after it: the
	// last invocations' records are written before the writer ends.
	c.onStop(func(context.Context) error { stopH(); <-done; h.Close(); return nil })
	c.History = url
	return h, nil
}

func connect(ns *server.Server) (*nats.Conn, error) {
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("baton-up"))
	if err != nil {
		return nil, fmt.Errorf("standalone: connect to embedded NATS: %w", err)
	}
	return nc, nil
}

// openRuntime picks the sandbox runtime: a named containerd, else a
// private containerd when the binary is installed, else (loudly) local
// processes.
func (c *Cluster) openRuntime(ctx context.Context, cfg Config) (worker.Runtime, error) {
	choice := cfg.Runtime
	if choice == "" {
		choice = RuntimeAuto
	}
	if choice == RuntimeAuto {
		choice = RuntimeContainerd
		if _, err := exec.LookPath("containerd"); err != nil && cfg.ContainerdAddress == "" {
			choice = RuntimeProcess
			c.log.Warn("containerd is not installed: FALLING BACK TO THE LOCAL-PROCESS RUNTIME. Sandboxes run as plain processes with NO isolation and NO CPU or memory limits. Install containerd (make up does) for real sandboxes.")
		}
	}
	c.Runtime = choice
	switch choice {
	case RuntimeContainerd:
		addr := cfg.ContainerdAddress
		if addr == "" {
			dmn, err := ctrd.StartDaemon(ctx, filepath.Join(cfg.DataDir, "containerd"), c.log)
			if err != nil {
				return nil, fmt.Errorf("standalone: start containerd: %w", err)
			}
			c.onStop(dmn.Stop)
			addr = dmn.Address()
		}
		c.ContainerdAddress = addr
		rt, err := ctrd.Open(ctx, ctrd.Config{
			Address: addr, ImagesDir: cfg.ImagesDir, StateDir: filepath.Join(cfg.DataDir, "sandboxes"),
			Subnet: cfg.Subnet, Logger: c.log,
		})
		if err != nil {
			return nil, fmt.Errorf("standalone: containerd runtime: %w", err)
		}
		c.onStop(func(context.Context) error { return rt.Close() })
		return rt, nil
	case RuntimeProcess:
		rt, err := process.Open(ctx, process.Config{ImagesDir: cfg.ImagesDir, StateDir: filepath.Join(cfg.DataDir, "processes"), Logger: c.log})
		if err != nil {
			return nil, fmt.Errorf("standalone: process runtime: %w", err)
		}
		c.onStop(func(context.Context) error { return rt.Close() })
		return rt, nil
	default:
		return nil, fmt.Errorf("standalone: runtime %q: want auto, containerd or process", cfg.Runtime)
	}
}

// capacity offers the machine's cores and three quarters of its memory.
func capacity() (cpuMilli, memBytes int64) {
	cpuMilli = int64(runtime.NumCPU()) * 1000
	memBytes = 4 << 30
	if total, err := memTotal(); err == nil {
		memBytes = total / 4 * 3
	}
	return cpuMilli, memBytes
}

func (c *Cluster) onStop(f func(context.Context) error) { c.stops = append(c.stops, f) }

func (c *Cluster) goRun(f func()) {
	c.wg.Add(1)
	go func() { defer c.wg.Done(); f() }()
}

// Stop shuts everything down in reverse order of start: the API, the
// orchestrator, every sandbox, the runtime, containerd, NATS.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		var errs []error
		for i := len(c.stops) - 1; i >= 0; i-- {
			if err := c.stops[i](ctx); err != nil {
				errs = append(errs, err)
			}
		}
		c.cancel()
		c.wg.Wait()
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

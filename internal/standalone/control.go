package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/pgserver"
	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/registry"
	"baton.dev/baton/scheduler"
)

// ControlPlaneConfig configures the orchestrator process: its API, its
// keys and its history.
type ControlPlaneConfig struct {
	Conn *nats.Conn
	// Registries is how deploys reach image registries to pin tags.
	Registries registry.Hosts
	// SecretKeyFile holds the key that seals tenants' registry logins
	// (empty: $BATON_SECRET_KEY, else secret.key in DataDir, made once).
	SecretKeyFile string
	// DataDir holds the bootstrap key hashes (keys.json) and, with
	// Postgres "auto", the private Postgres.
	DataDir string
	// Listen is the API's address (default 127.0.0.1:8080; port 0 picks one).
	Listen string
	// Token and AdminToken are keys the caller already holds (from the
	// client config); they are kept if the data directory knows them,
	// else new ones are made.
	Token, AdminToken string
	// Postgres is where history goes: "" or "auto" runs a private Postgres
	// in DataDir/postgres when the server binaries are installed (else
	// history is off, said loudly), "off" turns history off, anything else
	// is a connection URL.
	Postgres string
	// Orchestration is how the orchestrator scales sandboxes.
	Orchestration
	Logger *slog.Logger
	// sharedKeys: DataDir's keys were made by another replica sharing it;
	// none is made here.
	sharedKeys bool
	// standby: the orchestrator is a replica's warm standby, run by lead
	// once elected.
	standby bool
}

// ControlPlane is a running orchestrator with its API.
type ControlPlane struct {
	// URL is the API's base URL; Token is the default tenant's API key;
	// AdminToken the admin key (creates tenants).
	URL, Token, AdminToken string
	// History says where history goes ("off", or the Postgres URL);
	// Postgres is the private server when this control plane runs one.
	History      string
	Postgres     *pgserver.Server
	Orchestrator *orchestrator.Orchestrator

	log *slog.Logger
	stopList
	runMu   sync.Mutex
	halted  bool
	stopRun context.CancelFunc
	runDone chan struct{} // nil until the orchestrator runs
}

// StartControlPlane loads the keys, opens history, starts the orchestrator
// and serves the API.
func StartControlPlane(ctx context.Context, cfg ControlPlaneConfig) (c *ControlPlane, err error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	c, err = startOrchestrator(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("control plane: listen on %s: %w", cfg.Listen, err)
	}
	c.URL = "http://" + ln.Addr().String()
	c.serve(ln, c.Orchestrator.Handler())
	return c, nil
}

// serve serves h on ln until the control plane stops.
func (c *ControlPlane) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	c.onStop(func(ctx context.Context) error { err := srv.Shutdown(ctx); <-served; return err })
}

// startOrchestrator loads the keys, opens history and starts the
// orchestrator, serving nothing yet.
func startOrchestrator(ctx context.Context, cfg ControlPlaneConfig) (c *ControlPlane, err error) {
	if cfg.Conn == nil || cfg.DataDir == "" {
		return nil, errors.New("control plane: a NATS connection and a data directory are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("control plane: data directory: %w", err)
	}
	c = &ControlPlane{log: cfg.Logger}
	defer func() {
		if err != nil {
			_ = c.Stop(context.WithoutCancel(ctx))
			c = nil
		}
	}()
	load := loadKeys
	if cfg.sharedKeys {
		load = loadStoredKeys
	}
	keys, token, admin, err := load(cfg.DataDir, cfg.Token, cfg.AdminToken)
	if err != nil {
		return c, err
	}
	c.Token, c.AdminToken = token, admin
	secret, err := loadSecretKey(cfg.DataDir, cfg.SecretKeyFile)
	if err != nil {
		return c, fmt.Errorf("control plane: %w", err)
	}
	live, err := cfg.livePrewarm()
	if err != nil {
		return c, err
	}
	hist, err := c.openHistory(ctx, cfg)
	if err != nil {
		return c, err
	}
	orc, err := orchestrator.New(ctx, orchestrator.Config{
		Conn: cfg.Conn, Keys: keys, KeepAlive: cfg.KeepAlive, HealthTimeout: cfg.HealthTimeout,
		AutoscaleTick: cfg.AutoscaleTick, MaxSandboxesPerFunction: cfg.MaxSandboxesPerFunction,
		MaxQueue: cfg.MaxQueue, MaxQueueWait: cfg.MaxQueueWait,
		History: hist, Prewarm: live, Registries: cfg.Registries, SecretKey: secret, Logger: cfg.Logger,
		Privileges: cfg.Allow, Standby: cfg.standby,
	})
	if err != nil {
		return c, err
	}
	c.Orchestrator = orc
	c.onStop(func(context.Context) error { c.halt(); orc.Close(); return nil })
	if !cfg.standby {
		c.run(ctx)
	}
	return c, nil
}

// lead makes a warm standby's orchestrator (ControlPlaneConfig.standby)
// the leader at term and runs it.
func (c *ControlPlane) lead(ctx context.Context, term uint64) error {
	if err := c.Orchestrator.Lead(ctx, term); err != nil {
		return err
	}
	c.run(ctx)
	return nil
}

// run runs the orchestrator until the control plane stops (halt).
func (c *ControlPlane) run(ctx context.Context) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.halted || c.runDone != nil {
		return
	}
	orcCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Orchestrator.Run(orcCtx) }()
	c.stopRun, c.runDone = stop, done
}

// halt stops the orchestrator's run, if it runs, and waits for its end;
// it runs no more after.
func (c *ControlPlane) halt() {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	c.halted = true
	if c.runDone != nil {
		c.stopRun()
		<-c.runDone
	}
}

// openHistory starts or connects to Postgres as cfg.Postgres says and
// starts the history writer; nil means history is off.
func (c *ControlPlane) openHistory(ctx context.Context, cfg ControlPlaneConfig) (*history.History, error) {
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
			return nil, fmt.Errorf("control plane: %w", err)
		}
		c.onStop(srv.Stop)
		c.Postgres = srv
		url = srv.URL()
	}
	h, err := history.Open(ctx, url, scheduler.DefaultPrices(), history.WriterConfig{Logger: c.log})
	if err != nil {
		return nil, fmt.Errorf("control plane: %w", err)
	}
	hctx, stopH := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); h.Run(hctx, 10*time.Second) }()
	// Registered before the orchestrator's stop, so it runs after it: the
	// last invocations' records are written before the writer ends.
	c.onStop(func(context.Context) error { stopH(); <-done; h.Close(); return nil })
	c.History = url
	return h, nil
}

// Stop stops serving the API, the orchestrator, history and a private
// Postgres, in that order.
func (c *ControlPlane) Stop(ctx context.Context) error {
	return c.stop(ctx)
}

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
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/pgserver"
	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/prewarm"
)

// ControlPlaneConfig configures the orchestrator process: its API, its
// keys and its history.
type ControlPlaneConfig struct {
	Conn *nats.Conn
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
	// KeepAlive, HealthTimeout, AutoscaleTick and MaxSandboxesPerFunction
	// are the orchestrator's.
	KeepAlive               time.Duration
	HealthTimeout           time.Duration
	AutoscaleTick           time.Duration
	MaxSandboxesPerFunction int
	// Prewarm names the live pre-warm policy ("" or "off": none, the
	// keep-alive alone); PrewarmInterval is its planning interval.
	Prewarm         string
	PrewarmInterval time.Duration
	// PrewarmKeepAlive, when set, is the aquatope policies' keep-alive
	// above the floor (zero: the policy's default, 5 minutes).
	PrewarmKeepAlive time.Duration
	// PrewarmLive, when set, is the live pre-warm planner itself and
	// Prewarm and PrewarmInterval are ignored (benchmarks scale policies).
	PrewarmLive *prewarm.Live
	Logger      *slog.Logger
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
}

// StartControlPlane loads the keys, opens history, starts the orchestrator
// and serves the API.
func StartControlPlane(ctx context.Context, cfg ControlPlaneConfig) (c *ControlPlane, err error) {
	if cfg.Conn == nil || cfg.DataDir == "" {
		return nil, errors.New("control plane: a NATS connection and a data directory are required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
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
	keys, token, admin, err := loadKeys(cfg.DataDir, cfg.Token, cfg.AdminToken)
	if err != nil {
		return c, err
	}
	c.Token, c.AdminToken = token, admin
	live := cfg.PrewarmLive
	if live == nil {
		if live, err = livePrewarm(cfg.Prewarm, cfg.PrewarmInterval, cfg.PrewarmKeepAlive); err != nil {
			return c, err
		}
	}
	hist, err := c.openHistory(ctx, cfg)
	if err != nil {
		return c, err
	}
	orc, err := orchestrator.New(ctx, orchestrator.Config{
		Conn: cfg.Conn, Keys: keys, KeepAlive: cfg.KeepAlive, HealthTimeout: cfg.HealthTimeout,
		AutoscaleTick: cfg.AutoscaleTick, MaxSandboxesPerFunction: cfg.MaxSandboxesPerFunction,
		History: hist, Prewarm: live, Logger: cfg.Logger,
	})
	if err != nil {
		return c, err
	}
	c.Orchestrator = orc
	orcCtx, stopOrc := context.WithCancel(context.WithoutCancel(ctx))
	orcDone := make(chan struct{})
	go func() { defer close(orcDone); _ = orc.Run(orcCtx) }()
	c.onStop(func(context.Context) error { stopOrc(); <-orcDone; return nil })

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return c, fmt.Errorf("control plane: listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: orc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	c.onStop(func(ctx context.Context) error { err := srv.Shutdown(ctx); <-served; return err })
	c.URL = "http://" + ln.Addr().String()
	return c, nil
}

// livePrewarm makes the live pre-warm planner the flags name; nil for
// "off". The aquatope policies keep idle sandboxes above their floor for
// keepAlive when it is set; the other policies choose their own.
func livePrewarm(policy string, interval, keepAlive time.Duration) (*prewarm.Live, error) {
	if policy == "" || policy == "off" {
		return nil, nil
	}
	p, err := prewarm.New(policy)
	if err != nil {
		return nil, fmt.Errorf("--prewarm: %w", err)
	}
	if a, ok := p.(prewarm.Aquatope); ok && keepAlive > 0 {
		a.KeepAlive = keepAlive
		p = a
	}
	live, err := prewarm.NewLive(p, prewarm.LiveOptions{Interval: interval})
	if err != nil {
		return nil, fmt.Errorf("--prewarm %s: %w", policy, err)
	}
	return live, nil
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

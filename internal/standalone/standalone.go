// Package standalone runs a whole Baton in one process — an embedded NATS
// server, the orchestrator, and workers with their sandbox runtime — as
// `baton up` does and as the end-to-end tests do.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/natsd"
	"baton.dev/baton/internal/pgserver"
	"baton.dev/baton/orchestrator"
)

// Runtime choices.
const (
	RuntimeAuto       = "auto" // containerd if installed, else process
	RuntimeContainerd = "containerd"
	RuntimeProcess    = "process"
	RuntimeFake       = "fake" // for scale simulation only: nothing runs
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
	// Workers is how many workers to run (default 1), each with its own
	// runtime, private containerd and part of Subnet.
	Workers int
	// WorkerCPUMilli and WorkerMemoryBytes are what each worker offers
	// sandboxes (zero: the machine's cores and three quarters of its
	// memory, split between the workers).
	WorkerCPUMilli, WorkerMemoryBytes int64
	// WorkerCPUAllocationRatio is each worker's CPU over-commit
	// (WorkerConfig.CPUAllocationRatio).
	WorkerCPUAllocationRatio float64
	// Replicas, above 1, runs that many orchestrator replicas (each on a
	// port of its own, electing a leader: StartReplica) instead of one
	// orchestrator; URL and Orchestrator are then the leader's. For
	// measuring what replication costs.
	Replicas int
	// Orchestration is how the orchestrator scales sandboxes.
	Orchestration
	Logger *slog.Logger
	// Pulls is how the workers and the orchestrator reach image registries.
	Pulls Pulls
	// Unhardened runs sandboxes without the hardening: benchmarks only.
	Unhardened bool
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
	// Runtime is the first worker's sandbox runtime; ContainerdAddress the
	// socket of the containerd it uses, when it is containerd.
	Runtime           string
	ContainerdAddress string
	Orchestrator      *orchestrator.Orchestrator
	Workers           []*Worker
	// nats is the embedded server: private, it takes no network
	// connection (Connect reaches it).
	nats *server.Server

	log *slog.Logger
	stopList
}

// Start brings everything up and returns when the API serves and every
// worker has reported. On error, whatever was started is stopped again.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("standalone: a data directory is required")
	}
	if _, err := cfg.livePrewarm(); err != nil { // before anything starts
		return nil, err
	}
	if err := cfg.Allow.Validate(); err != nil {
		return nil, fmt.Errorf("standalone: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Subnet == "" {
		cfg.Subnet = "10.177.0.0/16"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("standalone: data directory: %w", err)
	}
	c = &Cluster{log: cfg.Logger}
	defer func() {
		if err != nil {
			_ = c.Stop(context.WithoutCancel(ctx))
			c = nil
		}
	}()

	// The server is private: nothing outside this process can reach the
	// bus (no port, so no credentials to hand out).
	ns, err := natsd.Start(natsd.Config{Dir: filepath.Join(cfg.DataDir, "nats"), Private: true})
	if err != nil {
		return c, fmt.Errorf("standalone: %w", err)
	}
	c.onStop(func(context.Context) error { ns.Shutdown(); ns.WaitForShutdown(); return nil })
	c.nats = ns
	nc, err := connect(ns)
	if err != nil {
		return c, err
	}
	c.onStop(func(context.Context) error { nc.Close(); return nil })

	cpu, mem := capacity()
	cpu, mem = cpu/int64(cfg.Workers), mem/int64(cfg.Workers)
	if cfg.WorkerCPUMilli > 0 {
		cpu = cfg.WorkerCPUMilli
	}
	if cfg.WorkerMemoryBytes > 0 {
		mem = cfg.WorkerMemoryBytes
	}
	for i := range cfg.Workers {
		subnet := cfg.Subnet
		if cfg.Workers > 1 {
			if subnet, err = SplitSubnet(cfg.Subnet, i, cfg.Workers); err != nil {
				return c, fmt.Errorf("standalone: %w", err)
			}
		}
		id := fmt.Sprintf("local-%d", i+1)
		w, err := StartWorker(ctx, WorkerConfig{
			ID: id, Conn: nc, DataDir: filepath.Join(cfg.DataDir, "workers", id), Runtime: cfg.Runtime,
			ContainerdAddress: cfg.ContainerdAddress, ImagesDir: cfg.ImagesDir, Subnet: subnet,
			CPUMilli: cpu, CPUAllocationRatio: cfg.WorkerCPUAllocationRatio, MemoryBytes: mem, Pulls: cfg.Pulls, Unhardened: cfg.Unhardened, Logger: cfg.Logger,
		})
		if err != nil {
			return c, fmt.Errorf("standalone: %w", err)
		}
		c.onStop(w.Stop)
		c.Workers = append(c.Workers, w)
	}
	c.Runtime, c.ContainerdAddress = c.Workers[0].Runtime, c.Workers[0].ContainerdAddress

	cpCfg := ControlPlaneConfig{
		Conn: nc, DataDir: cfg.DataDir, Listen: cfg.Listen, Token: cfg.Token, AdminToken: cfg.AdminToken,
		Postgres: cfg.Postgres, Orchestration: cfg.Orchestration, Registries: cfg.Pulls.Registries, Logger: cfg.Logger,
	}
	var cp *ControlPlane
	if cfg.Replicas > 1 {
		// The replicas stop theirs (registered in startReplicas).
		if cp, err = c.startReplicas(ctx, cfg.Replicas, cpCfg); err != nil {
			return c, err
		}
	} else {
		if cp, err = StartControlPlane(ctx, cpCfg); err != nil {
			return c, err
		}
		// Stopped before the workers' sandboxes are deleted, so that no
		// creation races the sweep.
		c.onStop(cp.Stop)
	}
	c.URL, c.Token, c.AdminToken = cp.URL, cp.Token, cp.AdminToken
	c.History, c.Postgres, c.Orchestrator = cp.History, cp.Postgres, cp.Orchestrator

	wait, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	if err := cp.Orchestrator.WaitForWorkers(wait, cfg.Workers); err != nil {
		return c, fmt.Errorf("standalone: %w", err)
	}
	return c, nil
}

// startReplicas runs n orchestrator replicas sharing cfg's keys and
// secret key, each with a data directory of its own under cfg's, and
// returns the leader's control plane once one leads (its URL the
// leader's; the replicas stop it).
func (c *Cluster) startReplicas(ctx context.Context, n int, cfg ControlPlaneConfig) (*ControlPlane, error) {
	_, token, admin, err := loadKeys(cfg.DataDir, cfg.Token, cfg.AdminToken)
	if err != nil {
		return nil, err
	}
	if _, err := loadSecretKey(cfg.DataDir, ""); err != nil { // made once, shared
		return nil, err
	}
	cfg.Token, cfg.AdminToken, cfg.SecretKeyFile = token, admin, filepath.Join(cfg.DataDir, "secret.key")
	if cfg.Postgres == "" || cfg.Postgres == "auto" {
		cfg.Postgres = "off" // one private Postgres each would split the history
	}
	elected := make(chan *Replica, n)
	for i := range n {
		rc := ReplicaConfig{ControlPlaneConfig: cfg, ID: fmt.Sprintf("replica-%d", i+1)}
		rc.DataDir = filepath.Join(cfg.DataDir, "replicas", rc.ID)
		if i > 0 {
			rc.Listen = "127.0.0.1:0"
		}
		r, err := StartReplica(ctx, rc)
		if err != nil {
			return nil, err
		}
		c.onStop(r.Stop)
		go func() {
			select {
			case <-r.Elected():
				elected <- r
			case <-r.Ended():
			}
		}()
	}
	select {
	case r := <-elected:
		return r.ControlPlane(), nil
	case <-time.After(30 * time.Second):
		return nil, errors.New("standalone: no orchestrator replica was elected within 30s")
	}
}

// Connect opens a connection of this process to the cluster's private
// NATS server (for tests that inspect the bus or JetStream).
func (c *Cluster) Connect() (*nats.Conn, error) { return connect(c.nats) }

func connect(ns *server.Server) (*nats.Conn, error) {
	// In-process: no socket between the orchestrator, the workers and
	// their embedded server.
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("baton-up"), nats.InProcessServer(ns))
	if err != nil {
		return nil, fmt.Errorf("standalone: connect to embedded NATS: %w", err)
	}
	return nc, nil
}

// Stop shuts everything down in reverse order of start: the API, the
// orchestrator, every sandbox, the runtime, containerd, NATS.
func (c *Cluster) Stop(ctx context.Context) error {
	return c.stop(ctx)
}

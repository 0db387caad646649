package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/worker"
	ctrd "baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/daemon"
	"baton.dev/baton/worker/fake"
	"baton.dev/baton/worker/process"
)

// WorkerConfig configures one worker node: a sandbox runtime served over
// NATS by a worker daemon.
type WorkerConfig struct {
	ID   string
	Conn *nats.Conn
	// DataDir holds the runtime's state (and a private containerd's).
	DataDir string
	// Runtime is auto, containerd or process.
	Runtime           string
	ContainerdAddress string
	ImagesDir         string
	// Subnet of this worker's sandbox bridge; workers on one machine need
	// distinct subnets.
	Subnet string
	// CPUMilli and MemoryBytes offered; zero means the machine's cores and
	// three quarters of its memory.
	CPUMilli, MemoryBytes int64
	// MaxConcurrentCreates bounds the sandbox creations the worker runs
	// at once (default 32); more wait their turn.
	MaxConcurrentCreates int
	Logger               *slog.Logger
}

// Worker is a running worker node.
type Worker struct {
	ID, Runtime, ContainerdAddress string
	daemon                         *daemon.Daemon
	log                            *slog.Logger
	stopList
}

// StartWorker opens the runtime (starting a private containerd under
// DataDir unless an address is given) and starts the daemon.
func StartWorker(ctx context.Context, cfg WorkerConfig) (w *Worker, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxConcurrentCreates < 0 {
		return nil, fmt.Errorf("worker %s: max concurrent creates %d: want at least 1 (0: the default, 32)", cfg.ID, cfg.MaxConcurrentCreates)
	}
	if cfg.ID == "" || cfg.Conn == nil || cfg.DataDir == "" {
		return nil, errors.New("worker: an ID, a NATS connection and a data directory are required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("worker %s: data directory: %w", cfg.ID, err)
	}
	w = &Worker{ID: cfg.ID, log: cfg.Logger.With("worker", cfg.ID)}
	defer func() {
		if err != nil {
			_ = w.Stop(context.WithoutCancel(ctx))
			w = nil
		}
	}()
	rt, err := w.openRuntime(ctx, cfg)
	if err != nil {
		return w, err
	}
	cpu, mem := cfg.CPUMilli, cfg.MemoryBytes
	if cpu <= 0 || mem <= 0 {
		mcpu, mmem := capacity()
		cpu, mem = max(cpu, 0), max(mem, 0)
		if cpu == 0 {
			cpu = mcpu
		}
		if mem == 0 {
			mem = mmem
		}
	}
	w.daemon = daemon.New(daemon.Config{ID: cfg.ID, Conn: cfg.Conn, Runtime: rt, CPUMilli: cpu, MemoryBytes: mem,
		MaxConcurrentCreates: cfg.MaxConcurrentCreates, Logger: cfg.Logger,
		// Deleting the sandboxes while the daemon still served left the
		// ones whose creation was in flight (with their network
		// namespaces); the daemon deletes them once it has stopped.
		DeleteOnExit: true,
	})
	dctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- w.daemon.Run(dctx) }()
	w.onStop(func(context.Context) error { stop(); return <-done })
	return w, nil
}

// openRuntime picks the sandbox runtime: a named containerd, else a
// private containerd when the binary is installed, else (loudly) local
// processes.
func (w *Worker) openRuntime(ctx context.Context, cfg WorkerConfig) (worker.Runtime, error) {
	choice := cfg.Runtime
	if choice == "" || choice == RuntimeAuto {
		choice = RuntimeContainerd
		if _, err := exec.LookPath("containerd"); err != nil && cfg.ContainerdAddress == "" {
			choice = RuntimeProcess
			w.log.Warn("containerd is not installed: FALLING BACK TO THE LOCAL-PROCESS RUNTIME. Sandboxes run as plain processes with NO isolation and NO CPU or memory limits. Install containerd (make up does) for real sandboxes.")
		}
	}
	w.Runtime = choice
	switch choice {
	case RuntimeContainerd:
		addr := cfg.ContainerdAddress
		if addr == "" {
			dmn, err := ctrd.StartDaemon(ctx, filepath.Join(cfg.DataDir, "containerd"), w.log)
			if err != nil {
				return nil, fmt.Errorf("worker %s: start containerd: %w", cfg.ID, err)
			}
			w.onStop(dmn.Stop)
			addr = dmn.Address()
		}
		w.ContainerdAddress = addr
		rt, err := ctrd.Open(ctx, ctrd.Config{
			Address: addr, ImagesDir: cfg.ImagesDir, StateDir: filepath.Join(cfg.DataDir, "sandboxes"),
			Subnet: cfg.Subnet, Logger: w.log,
		})
		if err != nil {
			return nil, fmt.Errorf("worker %s: containerd runtime: %w", cfg.ID, err)
		}
		w.onStop(func(context.Context) error { return rt.Close() })
		return rt, nil
	case RuntimeProcess:
		rt, err := process.Open(ctx, process.Config{ImagesDir: cfg.ImagesDir, StateDir: filepath.Join(cfg.DataDir, "processes"), Logger: w.log})
		if err != nil {
			return nil, fmt.Errorf("worker %s: process runtime: %w", cfg.ID, err)
		}
		w.onStop(func(context.Context) error { return rt.Close() })
		return rt, nil
	case RuntimeFake:
		w.log.Warn("FAKE RUNTIME: sandboxes are map entries answering over in-process HTTP, for scale simulation only; functions do not run")
		rt, err := fake.Open(fake.Config{})
		if err != nil {
			return nil, fmt.Errorf("worker %s: fake runtime: %w", cfg.ID, err)
		}
		w.onStop(func(context.Context) error { return rt.Close() })
		return rt, nil
	default:
		return nil, fmt.Errorf("worker %s: runtime %q: want auto, containerd, process or fake", cfg.ID, choice)
	}
}

// Stop deletes the worker's sandboxes, stops its daemon, runtime and
// private containerd.
func (w *Worker) Stop(ctx context.Context) error {
	return w.stop(ctx)
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

// SplitSubnet returns the i-th of n equal parts of cidr (n at most 256),
// so that workers on one machine get disjoint sandbox subnets.
func SplitSubnet(cidr string, i, n int) (string, error) {
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return "", fmt.Errorf("subnet %q: %w", cidr, err)
	}
	ones, bits := ipnet.Mask.Size()
	extra := 0
	for 1<<extra < n {
		extra++
	}
	if n < 1 || n > 256 || i < 0 || i >= n || ones+extra > bits-4 {
		return "", fmt.Errorf("subnet %s cannot be split into %d worker subnets", cidr, n)
	}
	ip := ipnet.IP.To4()
	if ip == nil {
		return "", fmt.Errorf("subnet %s: want IPv4", cidr)
	}
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	v += uint32(i) << (bits - ones - extra)
	return fmt.Sprintf("%d.%d.%d.%d/%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff, ones+extra), nil
}

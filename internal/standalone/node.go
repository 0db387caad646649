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
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
	ctrd "baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/daemon"
	"baton.dev/baton/worker/fake"
	"baton.dev/baton/worker/machine"
	"baton.dev/baton/worker/process"
	"baton.dev/baton/worker/protocol"
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
	// CPUAllocationRatio is the CPU over-commit the worker allows: the CPU
	// limits of its sandboxes may sum to CPUMilli times this, and never
	// more (zero means DefaultCPUAllocationRatio). Memory is never
	// over-committed.
	CPUAllocationRatio float64
	// MaxConcurrentCreates bounds the sandbox creations the worker runs
	// at once (default 32); more wait their turn.
	MaxConcurrentCreates int
	// FullHeartbeatEvery, above 1, sends short Beats between full
	// heartbeats while the worker's state does not change (see
	// daemon.Config); only for orchestrators that take Beats.
	FullHeartbeatEvery int
	// Registry is the machine's registry of worker incarnations
	// (machine.DefaultDir when empty).
	Registry string
	// Pulls is how the containerd runtime reaches image registries.
	Pulls Pulls
	// Unhardened runs sandboxes without the hardening (containerd.Config):
	// benchmarks only.
	Unhardened bool
	Logger     *slog.Logger
}

// Pulls is how workers pull images from registries, and how the
// orchestrator resolves their tags: the same hosts for both.
type Pulls struct {
	Registries registry.Hosts
	// Timeout bounds one pull; MaxBytes one image's size (zero: the
	// runtime's defaults, 5 minutes and 8 GiB).
	Timeout  time.Duration
	MaxBytes int64
	// CacheBytes bounds the content of the images a worker pulled: above
	// it the least recently used ones no sandbox uses are removed. Zero
	// means no budget: pulled images are kept forever.
	CacheBytes int64
}

// Worker is a running worker node.
type Worker struct {
	ID, Runtime, ContainerdAddress string
	// Incarnation is this start's record in the machine's registry.
	Incarnation machine.Incarnation
	// Swept is what the start removed of dead workers on this machine.
	Swept  []machine.Swept
	daemon *daemon.Daemon
	ended  chan struct{} // closed when the daemon's Run returned
	rt     worker.Runtime
	log    *slog.Logger
	// leftovers is set when stopping left sandboxes or the bridge
	// behind: the registry record stays for the next worker to sweep.
	leftovers atomic.Bool
	stopList
}

// StartWorker reconciles the machine (see machine.Session.SweepDead: what
// dead workers left running is removed, a predecessor with this data
// directory keeps its sandboxes for adoption), records this worker in
// the machine's registry, opens the runtime (starting a private
// containerd under DataDir unless an address is given) and starts the
// daemon, which announces the worker.
func StartWorker(ctx context.Context, cfg WorkerConfig) (w *Worker, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxConcurrentCreates < 0 {
		return nil, fmt.Errorf("worker %s: max concurrent creates %d: want at least 1 (0: the default, 32)", cfg.ID, cfg.MaxConcurrentCreates)
	}
	if cfg.FullHeartbeatEvery < 0 {
		return nil, fmt.Errorf("worker %s: flag --full-heartbeat-every %d: want 1 (every heartbeat full) or more", cfg.ID, cfg.FullHeartbeatEvery)
	}
	if cfg.CPUAllocationRatio != 0 && cfg.CPUAllocationRatio < 1 {
		return nil, fmt.Errorf("worker %s: flag --cpu-allocation-ratio %g: want 1 (no over-commit) or more", cfg.ID, cfg.CPUAllocationRatio)
	}
	if cfg.ID == "" || cfg.Conn == nil || cfg.DataDir == "" {
		return nil, errors.New("worker: an ID, a NATS connection and a data directory are required")
	}
	if err := protocol.CheckWorkerID(cfg.ID); err != nil {
		return nil, fmt.Errorf("worker: flag --id: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("worker %s: data directory: %w", cfg.ID, err)
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("worker %s: data directory: %w", cfg.ID, err)
	}
	if cfg.Subnet == "" {
		cfg.Subnet = ctrd.DefaultSubnet
	}
	w = &Worker{ID: cfg.ID, log: cfg.Logger.With("worker", cfg.ID)}
	defer func() {
		if err != nil {
			_ = w.Stop(context.WithoutCancel(ctx))
			w = nil
		}
	}()
	w.Runtime = w.chooseRuntime(cfg)
	if err := w.claim(cfg); err != nil {
		return w, err
	}
	rt, err := w.openRuntime(ctx, cfg)
	if err != nil {
		return w, err
	}
	w.rt = rt
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
	ratio := cfg.CPUAllocationRatio
	if ratio == 0 {
		ratio = DefaultCPUAllocationRatio
	}
	reclaimed := make([]string, len(w.Swept))
	for i, sw := range w.Swept {
		reclaimed[i] = sw.Incarnation.ID
	}
	w.daemon = daemon.New(daemon.Config{ID: cfg.ID, Conn: cfg.Conn, Runtime: rt, CPUMilli: int64(float64(cpu) * ratio), CPUAllocationRatio: ratio, MemoryBytes: mem,
		MaxConcurrentCreates: cfg.MaxConcurrentCreates, FullHeartbeatEvery: cfg.FullHeartbeatEvery, Logger: cfg.Logger,
		// Deleting the sandboxes while the daemon still served left the
		// ones whose creation was in flight (with their network
		// namespaces); the daemon deletes them once it has stopped.
		DeleteOnExit: true,
		Incarnation:  w.Incarnation.ID, Machine: machine.MachineID(), Reclaimed: reclaimed,
	})
	dctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	ended := make(chan struct{})
	var runErr error
	go func() { runErr = w.daemon.Run(dctx); close(ended) }()
	w.ended = ended
	w.onStop(func(context.Context) error {
		stop()
		<-ended
		if runErr != nil {
			w.leftovers.Store(true)
		}
		return runErr
	})
	return w, nil
}

// chooseRuntime resolves auto: containerd when it is installed or an
// address is given, else (loudly) local processes.
func (w *Worker) chooseRuntime(cfg WorkerConfig) string {
	choice := cfg.Runtime
	if choice == "" || choice == RuntimeAuto {
		choice = RuntimeContainerd
		if _, err := exec.LookPath("containerd"); err != nil && cfg.ContainerdAddress == "" {
			choice = RuntimeProcess
			w.log.Warn("containerd is not installed: FALLING BACK TO THE LOCAL-PROCESS RUNTIME. Sandboxes run as plain processes with NO isolation and NO CPU or memory limits. Install containerd (make up does) for real sandboxes.")
		}
	}
	return choice
}

// claim sweeps what dead workers left on this machine and records this
// worker in the machine's registry. The fake runtime runs nothing on the
// machine and takes no part.
func (w *Worker) claim(cfg WorkerConfig) error {
	if w.Runtime == RuntimeFake {
		return nil
	}
	self := machine.Incarnation{
		ID: machine.NewID(), WorkerID: cfg.ID, PID: os.Getpid(), Runtime: w.Runtime,
		DataDir: cfg.DataDir, Started: time.Now(),
	}
	if w.Runtime == RuntimeContainerd {
		self.Subnet, self.Bridge = cfg.Subnet, ctrd.BridgeFor(cfg.Subnet)
		self.Dirs = []string{ctrd.SocketDir(filepath.Join(cfg.DataDir, "containerd"))}
	}
	reg, err := machine.Open(cfg.Registry)
	if err != nil {
		return fmt.Errorf("worker %s: %w", cfg.ID, err)
	}
	sess, err := reg.Begin()
	if err != nil {
		return fmt.Errorf("worker %s: %w", cfg.ID, err)
	}
	defer sess.End()
	swept, err := sess.SweepDead(self)
	if err != nil {
		w.log.Error("could not remove everything dead workers left on this machine", "err", err)
	}
	for _, sw := range swept {
		d := sw.Incarnation
		if sw.Adoptable {
			w.log.Info("this worker's predecessor died; its sandboxes are adopted where they still run", "incarnation", d.ID,
				"predecessor_pid", d.PID, "processes_killed", sw.Processes)
			continue
		}
		w.log.Warn("removed what a dead worker left running on this machine", "dead_worker", d.WorkerID, "incarnation", d.ID,
			"data", d.DataDir, "bridge", d.Bridge, "processes_killed", sw.Processes, "mounts_removed", sw.Mounts, "links_removed", sw.Links)
	}
	w.Swept = swept
	if self.Bridge != "" {
		if err := machine.CheckSubnet(self.Subnet, self.Bridge); err != nil {
			return fmt.Errorf("worker %s: %w", cfg.ID, err)
		}
	}
	claim, err := sess.Claim(self)
	if err != nil {
		return fmt.Errorf("worker %s: %w", cfg.ID, err)
	}
	w.Incarnation = self
	// The first step registered runs last: the record goes once nothing
	// of the worker runs; if something was left, it stays for the next
	// worker's sweep.
	w.onStop(func(context.Context) error {
		if w.leftovers.Load() {
			claim.Abandon()
			return nil
		}
		return claim.Release()
	})
	return nil
}

// openRuntime opens the runtime chosen: a named containerd or a private
// one, local processes, or the fake.
func (w *Worker) openRuntime(ctx context.Context, cfg WorkerConfig) (worker.Runtime, error) {
	switch w.Runtime {
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
			Unhardened: cfg.Unhardened, Registries: cfg.Pulls.Registries, PullTimeout: cfg.Pulls.Timeout, PullMaxBytes: cfg.Pulls.MaxBytes,
			ImageCacheBytes: cfg.Pulls.CacheBytes,
		})
		if err != nil {
			return nil, fmt.Errorf("worker %s: containerd runtime: %w", cfg.ID, err)
		}
		w.onStop(func(context.Context) error { return rt.Close() })
		// After the daemon has deleted the sandboxes: the bridge and its
		// routes go too.
		w.onStop(func(ctx context.Context) error {
			if err := rt.RemoveNetwork(ctx); err != nil {
				w.leftovers.Store(true)
				return fmt.Errorf("worker %s: %w", cfg.ID, err)
			}
			return nil
		})
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
		return nil, fmt.Errorf("worker %s: runtime %q: want auto, containerd, process or fake", cfg.ID, w.Runtime)
	}
}

// Cleanup removes what dead workers left on this machine (their
// sandboxes, containerd daemons, namespaces, veths and bridges) without
// starting a worker: for an operator retiring or replacing a node. Live
// workers are left alone.
func Cleanup(registry string) ([]machine.Swept, error) {
	reg, err := machine.Open(registry)
	if err != nil {
		return nil, err
	}
	sess, err := reg.Begin()
	if err != nil {
		return nil, err
	}
	defer sess.End()
	return sess.SweepDead(machine.Incarnation{})
}

// PullStats reports the image pulls the worker's runtime made and the
// bytes they fetched; ok is false for a runtime that does not pull.
func (w *Worker) PullStats() (pulls, bytes int64, ok bool) {
	p, ok := w.rt.(interface{ PullStats() (int64, int64) })
	if !ok {
		return 0, 0, false
	}
	pulls, bytes = p.PullStats()
	return pulls, bytes, true
}

// Ended is closed when the worker's daemon has stopped, by itself (the
// bus refused its subjects, say) or by Stop; Stop returns why.
func (w *Worker) Ended() <-chan struct{} { return w.ended }

// Stop deletes the worker's sandboxes, stops its daemon, runtime and
// private containerd.
func (w *Worker) Stop(ctx context.Context) error {
	return w.stop(ctx)
}

// DefaultCPUAllocationRatio is the CPU over-commit a worker allows unless
// told otherwise (as OpenStack's cpu_allocation_ratio, whose default is
// 16). Warm sandboxes use no CPU between calls, and limits are CFS quotas
// that slow busy sandboxes down under contention but fail none (their CPU
// shares are proportional to their limits, so each keeps its part), while
// memory, which cannot be taken back, is never over-committed. A workflow's
// sandboxes must stay warm together: social-compose, one of the samples,
// holds 16.25 cores of limits at once before it is tuned (six functions at
// their 2-core upper bound, four fixed ones, two timeline shards in
// parallel), so a worker offers its CPU ten times over, and a 2-core
// machine holds it warm. `--cpu-allocation-ratio 1` allows no over-commit.
const DefaultCPUAllocationRatio = 10

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

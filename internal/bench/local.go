package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/containerd"

	"baton.dev/baton/backoff"
	"baton.dev/baton/internal/imagebuild"
	"baton.dev/baton/internal/rundir"
	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/scheduler/decide"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/worker"
	ctrd "baton.dev/baton/worker/containerd"
)

// Subnets of the benchmarks' sandboxes: apart from the tests' (10.176 to
// 10.179) and from `baton up`'s (10.177), so a benchmark can run beside them.
const (
	localSubnet  = "10.180.0.0/16" // Baton's worker
	directSubnet = "10.181.0.0/16" // the baseline's runtime, without Baton
)

// echoImage is the echo test function every local benchmark runs.
const echoImage = "baton.local/testfn-ok:v1"

// LocalOptions are what the benchmarks that start Baton on this machine
// share. They are set by flags of `baton bench` of the same names, and
// errors about them name those flags.
type LocalOptions struct {
	// Images is the directory of image archives (--images); the test
	// function images are built there when missing.
	Images string
	// Root is the repository's root (--root), to build the test function
	// images from.
	Root string
	// Runtime is the sandbox runtime (--runtime):
	// standalone.RuntimeContainerd or standalone.RuntimeProcess.
	Runtime string
	// Verbose logs Baton's warnings to stderr, not only its errors
	// (--verbose).
	Verbose bool

	// Unhardened runs the sandboxes without the hardening (--unhardened),
	// to price it.
	Unhardened bool
	// Replicas, above 1, runs that many orchestrator replicas and sends
	// the load to the leader (--replicas), to price replication.
	Replicas int

	// pulls is how Baton reaches registries (the pull bench's own).
	pulls standalone.Pulls
	// workerMemory, when set, is the memory the worker offers (the
	// overload bench sizes its capacity with it); queue the bounds of
	// each function's queue; logTo, when set, receives Baton's log at
	// Info (the overload bench counts its lines).
	workerMemory int64
	queue        struct {
		max  int
		wait time.Duration
	}
	logTo io.Writer
}

// localBaton is a standalone Baton started for one benchmark run.
type localBaton struct {
	cl   *standalone.Cluster
	api  *client.Client
	log  *slog.Logger
	dir  *rundir.Dir
	imgs string
}

// startLocal builds the test images if needed and starts a standalone
// Baton with one worker, history off, on localSubnet, with the live
// pre-warm planner live (nil: none).
func startLocal(ctx context.Context, o LocalOptions, keepAlive time.Duration, live *prewarm.Live) (*localBaton, error) {
	imgs, err := testImages(ctx, o)
	if err != nil {
		return nil, err
	}
	level := slog.LevelError
	if o.Verbose {
		level = slog.LevelWarn
	}
	var out io.Writer = os.Stderr
	if o.logTo != nil {
		out, level = o.logTo, slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	// A short path (containerd's sockets live under it), swept by a later
	// bench or test if this one is killed.
	dir, err := rundir.New("baton-bench-", func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...)) })
	if err != nil {
		return nil, fmt.Errorf("bench data directory: %w", err)
	}
	cl, err := standalone.Start(ctx, standalone.Config{
		DataDir: dir.Path, Listen: "127.0.0.1:0", Runtime: o.Runtime, ImagesDir: imgs, Subnet: localSubnet,
		Postgres: "off", Logger: log, Pulls: o.pulls, Unhardened: o.Unhardened, WorkerMemoryBytes: o.workerMemory, Replicas: o.Replicas,
		Orchestration: standalone.Orchestration{KeepAlive: keepAlive, PrewarmLive: live, MaxQueue: o.queue.max, MaxQueueWait: o.queue.wait},
	})
	if err != nil {
		dir.Remove()
		return nil, err
	}
	return &localBaton{cl: cl, log: log, dir: dir, imgs: imgs, api: &client.Client{URL: cl.URL, Token: cl.Token}}, nil
}

// testImages is the absolute directory of the test functions' image
// archives (--images), built there when missing.
func testImages(ctx context.Context, o LocalOptions) (string, error) {
	if o.Runtime != standalone.RuntimeContainerd && o.Runtime != standalone.RuntimeProcess {
		return "", fmt.Errorf("flag --runtime %q: want containerd or process", o.Runtime)
	}
	if _, err := os.Stat(filepath.Join(o.Images, "testfn-ok.tar")); err != nil {
		if _, err := imagebuild.BuildTestFunctions(ctx, o.Root, o.Images); err != nil {
			return "", fmt.Errorf("flag --images %s has no testfn-ok.tar and building it failed (run from the repository root, or pass --root): %w", o.Images, err)
		}
	}
	imgs, err := filepath.Abs(o.Images)
	if err != nil {
		return "", fmt.Errorf("flag --images: %w", err)
	}
	return imgs, nil
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// openDirect opens the baselines' runtime: worker/containerd on Baton's
// containerd, in a namespace, state directory and subnet of its own, with
// what cfg adds (images, registries, hardening). close removes its
// network and closes it.
func (b *localBaton) openDirect(ctx context.Context, cfg ctrd.Config) (rt *ctrd.Runtime, close func(), err error) {
	cfg.Address, cfg.Namespace = b.cl.ContainerdAddress, "baton-bench-direct"
	cfg.StateDir, cfg.Subnet, cfg.Logger = filepath.Join(b.dir.Path, "direct"), directSubnet, b.log
	rt, err = ctrd.Open(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("baseline runtime: %w", err)
	}
	return rt, func() {
		if err := rt.RemoveNetwork(context.WithoutCancel(ctx)); err != nil {
			b.log.Error("remove the baseline's network", "err", err)
		}
		_ = rt.Close()
	}, nil
}

// stop deletes every sandbox, stops Baton and removes its data. It has
// its own deadline: it runs after the run's context has ended too.
func (b *localBaton) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return errors.Join(b.cl.Stop(ctx), b.dir.Remove())
}

// stopOrLog is stop for a deferred call: a stop that leaves sandboxes
// behind is said, not hidden.
func (b *localBaton) stopOrLog() {
	if err := b.stop(); err != nil {
		b.log.Error("stop the benchmark's Baton", "err", err)
	}
}

// deployEcho deploys a one-stage workflow named name running the echo
// test function with fixed limits.
func (b *localBaton) deployEcho(ctx context.Context, name string) error {
	return b.deployEchoEnv(ctx, name, "{}")
}

// deployEchoEnv is deployEcho with the function's environment, a YAML
// flow mapping.
func (b *localBaton) deployEchoEnv(ctx context.Context, name, env string) error {
	if _, err := b.api.Deploy(ctx, name+".yaml", []byte(echoWorkflow(name, echoImage, env))); err != nil {
		return fmt.Errorf("deploy %s: %w", name, err)
	}
	return nil
}

// sandboxes returns the endpoints of function's sandboxes by ID, as the
// worker recorded them: containerd's container labels, or the process
// runtime's state files.
func (b *localBaton) sandboxes(ctx context.Context, function string) (map[string]string, error) {
	out := map[string]string{}
	if b.cl.Runtime == standalone.RuntimeContainerd {
		cc, err := containerd.New(b.cl.ContainerdAddress, containerd.WithDefaultNamespace(ctrd.DefaultNamespace))
		if err != nil {
			return nil, fmt.Errorf("connect to containerd at %s: %w", b.cl.ContainerdAddress, err)
		}
		defer cc.Close()
		list, err := cc.ContainerService().List(ctx, fmt.Sprintf(`labels."baton.dev/function"==%q`, function))
		if err != nil {
			return nil, fmt.Errorf("list containers of %s: %w", function, err)
		}
		for _, c := range list {
			if ep := c.Labels["baton.dev/endpoint"]; ep != "" {
				out[c.ID] = ep
			}
		}
		return out, nil
	}
	var files []string
	err := filepath.WalkDir(b.dir.Path, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(path)) == "sandboxes" && filepath.Ext(path) == ".json" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the sandboxes of %s: %w", function, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // being written or removed
		}
		var rec struct {
			Sandbox worker.Sandbox `json:"sandbox"`
		}
		if json.Unmarshal(data, &rec) == nil && rec.Sandbox.Function == function && rec.Sandbox.Endpoint != "" {
			out[rec.Sandbox.ID] = rec.Sandbox.Endpoint
		}
	}
	return out, nil
}

// fixedFloor is a floor planner that keeps n warm sandboxes of one
// function and none of the others.
type fixedFloor struct {
	function string
	n        int
}

// Plan implements decide.FloorPlanner.
func (f fixedFloor) Plan(ps decide.PoolState, _ time.Time) decide.PoolPlan {
	if ps.Function == f.function {
		return decide.PoolPlan{Floor: f.n}
	}
	return decide.PoolPlan{}
}

// warmPool asks the autoscaler for n warm sandboxes of function (a floor
// through the pre-warm planner's interface) and waits until the worker
// runs them; it returns their endpoints.
func (b *localBaton) warmPool(ctx context.Context, function string, n int) ([]string, error) {
	b.cl.Orchestrator.SetFloorPlanner(fixedFloor{function: function, n: n})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		sbs, err := b.sandboxes(ctx, function)
		if err != nil {
			return nil, err
		}
		eps := make([]string, 0, len(sbs))
		for _, id := range slices.Sorted(maps.Keys(sbs)) {
			// A container being created (or whose creation was abandoned)
			// has its endpoint label before it serves.
			if worker.WaitHealthy(ctx, sbs[id], 200*time.Millisecond, nil, nil, nil) == nil {
				eps = append(eps, sbs[id])
			}
		}
		if len(eps) >= n {
			return eps[:n], nil
		}
		if backoff.Sleep(ctx, 100*time.Millisecond) != nil {
			return nil, fmt.Errorf("wait for %d warm sandboxes of %s (have %d): %w", n, function, len(sbs), ctx.Err())
		}
	}
}

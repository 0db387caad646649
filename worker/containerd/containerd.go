// Package containerd is Baton's sandbox runtime on containerd: every
// sandbox is a container with cgroup CPU and memory limits, in its own
// network namespace on a CNI bridge. It also starts private containerd
// daemons (StartDaemon) for tests and single-machine setups.
package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"

	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/machine"
)

// Defaults for Config fields left empty.
const (
	DefaultNamespace   = "baton"
	DefaultSubnet      = "10.177.0.0/16"
	DefaultBridge      = "baton0"
	DefaultCNIBinDir   = "/usr/lib/cni"
	DefaultSnapshotter = "overlayfs"
)

// Port is the port every sandbox's function serves on ($PORT).
const Port = 8080

// Container labels; List rebuilds sandboxes from them after a restart.
const (
	labelFunction = "baton.dev/function"
	labelCPU      = "baton.dev/cpu-milli"
	labelMemory   = "baton.dev/memory-bytes"
	labelEndpoint = "baton.dev/endpoint"
	labelVeth     = "baton.dev/veth"   // the host end of its veth, a port of the bridge
	labelEgress   = "baton.dev/egress" // "internet" for a sandbox with egress
)

// cfsPeriod is the CFS period in microseconds; the quota is CPUMilli*100.
const cfsPeriod = 100000

// Config configures a Runtime.
type Config struct {
	// Address is containerd's gRPC socket. Required.
	Address string
	// Namespace is the containerd namespace of the sandboxes ("baton").
	Namespace string
	// ImagesDir holds image archives (*.tar, docker-archive or OCI); Open
	// imports and unpacks every one. Empty means none.
	ImagesDir string
	// StateDir holds the network namespace files, the CNI configuration,
	// the host-local IPAM reservations and the sandboxes' logs. Required.
	StateDir string
	// Subnet of the sandbox bridge ("10.177.0.0/16"). Runtimes on one
	// machine need different subnets, as each keeps its own IPAM
	// reservations.
	Subnet string
	// Bridge is the Linux bridge the sandboxes attach to: "baton0" for the
	// default subnet, else "baton-" and a hash of the subnet. The CNI
	// bridge plugin gives a bridge a single IPv4 address, so every subnet
	// needs its own bridge.
	Bridge string
	// CNIBinDir holds the CNI plugins ("/usr/lib/cni").
	CNIBinDir string
	// Snapshotter is the containerd snapshotter ("overlayfs").
	Snapshotter string
	// Registries is how the runtime reaches registries to pull images
	// (trusted CAs, plain-HTTP hosts).
	Registries registry.Hosts
	// PullTimeout bounds one pull (default 5 minutes); PullMaxBytes the
	// bytes of one image's manifests, config and layers (default 8 GiB).
	PullTimeout  time.Duration
	PullMaxBytes int64
	// ImageCacheBytes bounds the content of the images pulled from
	// registries (distinct manifests, configs and compressed layers):
	// above it, images no sandbox uses are removed, least recently used
	// first (see imageCache). 0 means no budget: nothing is removed.
	ImageCacheBytes int64
	// Unhardened runs sandboxes without the hardening (sandbox.go's
	// hardening, isolated bridge ports, the bridge's firewall): for the
	// benchmark that prices the hardening and the test that shows the
	// attack suite can fail. Never for tenants.
	Unhardened bool
	// Logger receives the runtime's logs (slog.Default()).
	Logger *slog.Logger
}

// Runtime runs sandboxes on containerd. It implements worker.Runtime.
type Runtime struct {
	cfg    Config
	client *containerd.Client
	net    *network
	log    *slog.Logger
	// fw is the firewall of the runtime's bridge and of its sandboxes'
	// egress.
	fw *machine.Firewall

	mu   sync.Mutex
	busy worker.Claims // IDs being created or deleted
	// pulls makes one pull per image however many creations ask for it.
	pulls *puller
	// cache removes unused pulled images over the budget.
	cache *imageCache
	// reconciled is what Open found of an earlier incarnation.
	reconciled Reconciled

	closeOnce sync.Once
	closeErr  error
}

var _ worker.Runtime = (*Runtime)(nil)

// Open connects to containerd, loads the CNI configuration and imports and
// unpacks every image archive in cfg.ImagesDir.
func Open(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Address == "" {
		return nil, errors.New("containerd runtime: Config.Address (containerd socket) is empty")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("containerd runtime: Config.StateDir is empty")
	}
	setDefault(&cfg.Namespace, DefaultNamespace)
	setDefault(&cfg.Subnet, DefaultSubnet)
	setDefault(&cfg.Bridge, BridgeFor(cfg.Subnet))
	setDefault(&cfg.CNIBinDir, DefaultCNIBinDir)
	setDefault(&cfg.Snapshotter, DefaultSnapshotter)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var err error
	if cfg.StateDir, err = filepath.Abs(cfg.StateDir); err != nil {
		return nil, fmt.Errorf("containerd runtime: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "logs"), 0o700); err != nil {
		return nil, fmt.Errorf("containerd runtime: state directory: %w", err)
	}
	netw, err := newNetwork(cfg)
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: network: %w", err)
	}
	fw := new(machine.Firewall)
	if !cfg.Unhardened {
		if err := fw.Guard(cfg.Bridge); err != nil {
			return nil, fmt.Errorf("containerd runtime: %w", err)
		}
	}
	client, err := containerd.New(cfg.Address, containerd.WithDefaultNamespace(cfg.Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: connect to %s: %w", cfg.Address, err)
	}
	hc, err := cfg.Registries.Client()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("containerd runtime: %w", err)
	}
	r := &Runtime{cfg: cfg, client: client, net: netw, log: cfg.Logger, fw: fw}
	r.pulls = newPuller(r, hc)
	r.cache = newImageCache(r, cfg.ImageCacheBytes)
	rec, err := r.reconcile(r.ctx(ctx))
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("containerd runtime: reconcile what an earlier worker left: %w", err)
	}
	if rec != (Reconciled{}) {
		r.log.Info("sandboxes of an earlier worker reconciled: the running ones are kept, everything else removed",
			"kept", rec.Kept, "containers_removed", rec.Containers, "namespaces_removed", rec.Namespaces,
			"reservations_removed", rec.Reservations, "links_removed", rec.Links)
	}
	r.reconciled = rec
	if cfg.ImagesDir != "" {
		if err := r.importImages(r.ctx(ctx)); err != nil {
			client.Close()
			return nil, fmt.Errorf("containerd runtime: %w", err)
		}
	}
	r.cache.start(ctx)
	return r, nil
}

// BridgeFor names the default bridge of subnet: at most 15 characters, as
// Linux wants.
func BridgeFor(subnet string) string {
	if subnet == DefaultSubnet {
		return DefaultBridge
	}
	sum := sha256.Sum256([]byte(subnet))
	return "baton-" + hex.EncodeToString(sum[:4])
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// ctx puts the runtime's containerd namespace into ctx.
func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// importImages imports every *.tar in ImagesDir and unpacks it.
func (r *Runtime) importImages(ctx context.Context) error {
	archives, err := filepath.Glob(filepath.Join(r.cfg.ImagesDir, "*.tar"))
	if err != nil {
		return err
	}
	sort.Strings(archives)
	for _, path := range archives {
		start := time.Now()
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("import images: %w", err)
		}
		imgs, err := r.client.Import(ctx, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("import images from %s: %w", path, err)
		}
		for _, img := range imgs {
			if err := containerd.NewImage(r.client, img).Unpack(ctx, r.cfg.Snapshotter); err != nil {
				return fmt.Errorf("unpack image %s from %s: %w", img.Name, path, err)
			}
			r.log.Debug("image imported", "image", img.Name, "archive", path, "took", time.Since(start))
		}
	}
	return nil
}

// Name returns "containerd".
func (r *Runtime) Name() string { return "containerd" }

// Images lists the image references in the runtime's namespace.
func (r *Runtime) Images(ctx context.Context) ([]string, error) {
	imgs, err := r.client.ImageService().List(r.ctx(ctx))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		names = append(names, img.Name)
	}
	sort.Strings(names)
	return names, nil
}

// Close closes the connection to containerd, after the image cache's
// background collection if one runs; sandboxes keep running. Closing
// twice is not an error.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() {
		r.cache.close()
		if err := r.client.Close(); err != nil {
			r.closeErr = fmt.Errorf("close containerd client: %w", err)
		}
	})
	return r.closeErr
}

// List returns the sandboxes in the runtime's namespace, rebuilt from the
// containers' labels, so it works after a restart of the worker.
// Sandboxes being created or deleted right now, and containers a crash
// left half made (no endpoint yet), are not listed.
func (r *Runtime) List(ctx context.Context) ([]worker.Sandbox, error) {
	ctx = r.ctx(ctx)
	containers, err := r.client.ContainerService().List(ctx, `labels."`+labelFunction+`"`)
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var out []worker.Sandbox
	for _, c := range containers {
		endpoint := c.Labels[labelEndpoint]
		if endpoint == "" || r.busy.Held(c.ID) {
			continue
		}
		cpu, _ := strconv.ParseInt(c.Labels[labelCPU], 10, 64)
		mem, _ := strconv.ParseInt(c.Labels[labelMemory], 10, 64)
		out = append(out, worker.Sandbox{
			ID:          c.ID,
			Function:    c.Labels[labelFunction],
			Image:       c.Image,
			CPUMilli:    cpu,
			MemoryBytes: mem,
			Endpoint:    endpoint,
			Created:     c.CreatedAt,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Sweep deletes every sandbox in the runtime's namespace, including
// containers a crash left half made. Use it when a machine is retired; a
// worker restart does not need it.
func (r *Runtime) Sweep(ctx context.Context) error {
	containers, err := r.client.ContainerService().List(r.ctx(ctx), `labels."`+labelFunction+`"`)
	if err != nil {
		return fmt.Errorf("sweep sandboxes: %w", err)
	}
	var errs []error
	for _, c := range containers {
		if err := r.Delete(ctx, c.ID); err != nil && !errors.Is(err, worker.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// logPath is where sandbox id's stdout and stderr go.
func (r *Runtime) logPath(id string) string {
	return filepath.Join(r.cfg.StateDir, "logs", id+".log")
}

// imageNotFound builds the ErrImageNotFound error for ref, naming the
// images that exist.
func (r *Runtime) imageNotFound(ctx context.Context, ref string) error {
	have, err := r.Images(ctx)
	if err != nil {
		return fmt.Errorf("image %q: %w (listing the images failed too: %v)", ref, worker.ErrImageNotFound, err)
	}
	list := strings.Join(have, ", ")
	if list == "" {
		list = "none; put archives in the images directory (" + r.cfg.ImagesDir + ")"
	}
	return fmt.Errorf("image %q: %w; this worker has: %s", ref, worker.ErrImageNotFound, list)
}

// ignoreNotFound turns containerd's not-found errors into nil.
func ignoreNotFound(err error) error {
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

package containerd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/images"
	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
)

const (
	defaultPullTimeout  = 5 * time.Minute
	defaultPullMaxBytes = 8 << 30
)

// puller pulls images from registries into containerd's content store and
// unpacks them for the snapshotter: one pull per image at a time however
// many creations wait for it. containerd writes content under a digest
// only once it verified it, so a pull cut short (a killed worker) leaves
// nothing a later pull would serve: that pull fetches what is missing.
type puller struct {
	r      *Runtime
	client *http.Client

	mu       sync.Mutex
	inflight map[string]*pull

	// Pulls counts the pulls made (one per image and burst of demand);
	// Bytes what they fetched, by the descriptors' sizes.
	pulls, bytes atomic.Int64
}

// pull is one pull in progress; done closes when err and bytes are set.
type pull struct {
	done  chan struct{}
	err   error
	bytes int64
}

func newPuller(r *Runtime, client *http.Client) *puller {
	return &puller{r: r, client: client, inflight: map[string]*pull{}}
}

// PullStats reports the pulls this runtime made and the bytes they named.
func (r *Runtime) PullStats() (pulls, bytes int64) {
	return r.pulls.pulls.Load(), r.pulls.bytes.Load()
}

// Pull brings ref into the content store, unpacked, logging in with auth
// (for ref's registry only) when it is not nil. Callers asking for an
// image already being pulled wait for that pull and share its result;
// ctx bounds the wait, not the shared pull. It returns the bytes the
// shared pull fetched.
func (p *puller) Pull(ctx context.Context, ref string, auth *worker.PullAuth) (int64, error) {
	p.mu.Lock()
	pl, ok := p.inflight[ref]
	if !ok {
		pl = &pull{done: make(chan struct{})}
		p.inflight[ref] = pl
		go func() {
			// The pin keeps the image cache from removing ref while it
			// is pulled, and the pull from starting while it is removed.
			unpin := p.r.cache.pin(ref)
			n, err := p.fetch(ref, auth)
			unpin()
			p.mu.Lock()
			delete(p.inflight, ref)
			p.mu.Unlock()
			pl.err, pl.bytes = err, n
			close(pl.done)
			if err == nil {
				p.r.cache.background("pull of " + ref)
			}
		}()
	}
	p.mu.Unlock()
	select {
	case <-pl.done:
		return pl.bytes, pl.err
	case <-ctx.Done():
		return 0, fmt.Errorf("wait for the pull of %s: %w", ref, context.Cause(ctx))
	}
}

// inFlight reports whether ref is being pulled.
func (p *puller) inFlight(ref string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.inflight[ref]
	return ok
}

// fetch does one pull, bounded by the runtime's timeout and size limit,
// for this worker's platform only. It returns the bytes fetched, by the
// descriptors' sizes.
func (p *puller) fetch(ref string, auth *worker.PullAuth) (int64, error) {
	cfg := p.r.cfg
	timeout, limit := cfg.PullTimeout, cfg.PullMaxBytes
	if timeout <= 0 {
		timeout = defaultPullTimeout
	}
	if limit <= 0 {
		limit = defaultPullMaxBytes
	}
	ctx, cancel := context.WithTimeout(registry.Quiet(p.r.ctx(context.Background())), timeout)
	defer cancel()
	host := registry.Host(ref)
	var cred *registry.Credential
	if auth != nil && auth.Host == host {
		cred = &registry.Credential{Username: auth.Username, Password: auth.Password}
	}
	var total atomic.Int64
	limitBytes := func(h images.Handler) images.Handler {
		return images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			if n := total.Add(desc.Size); n > limit {
				return nil, fmt.Errorf("image %s is larger than this worker's pull limit of %d bytes (--pull-max-size)", ref, limit)
			}
			return h.Handle(ctx, desc)
		})
	}
	p.pulls.Add(1)
	start := time.Now()
	img, err := p.r.client.Pull(ctx, ref,
		containerd.WithResolver(cfg.Registries.Resolver(p.client, host, cred)),
		containerd.WithPullSnapshotter(cfg.Snapshotter),
		containerd.WithPlatformMatcher(platforms.Default()),
		containerd.WithImageHandlerWrapper(limitBytes),
	)
	p.bytes.Add(total.Load())
	if err != nil {
		return total.Load(), fmt.Errorf("pull %s from %s: %w: %w", ref, host, worker.ErrPull, explainPull(err, timeout))
	}
	// containerd's matcher only chooses within an index: a single
	// manifest's image is taken whatever its platform, so check it here,
	// before unpacking, and forget an image this worker cannot run.
	if err := checkPlatform(ctx, img); err != nil {
		if derr := p.r.client.ImageService().Delete(ctx, img.Name(), images.SynchronousDelete()); derr != nil {
			p.r.log.Warn("forget an image of another platform", "image", ref, "err", derr)
		}
		return total.Load(), fmt.Errorf("pull %s from %s: %w: %w", ref, host, worker.ErrPull, err)
	}
	if err := img.Unpack(ctx, cfg.Snapshotter); err != nil {
		return total.Load(), fmt.Errorf("pull %s from %s: %w: unpack: %w", ref, host, worker.ErrPull, explainPull(err, timeout))
	}
	p.r.log.Info("image pulled", "image", ref, "bytes", total.Load(), "took", time.Since(start))
	return total.Load(), nil
}

// checkPlatform refuses an image whose configuration names a platform
// this worker cannot run.
func checkPlatform(ctx context.Context, img containerd.Image) error {
	spec, err := img.Spec(ctx)
	if err != nil {
		return fmt.Errorf("read the image's configuration: %w", err)
	}
	p := ocispec.Platform{OS: spec.OS, Architecture: spec.Architecture, Variant: spec.Variant}
	if !platforms.Default().Match(platforms.Normalize(p)) {
		return fmt.Errorf("the image is built for %s, not for this worker's platform (%s)", platforms.Format(p), platforms.DefaultString())
	}
	return nil
}

// explainPull says in words what containerd's pull errors mean.
func explainPull(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the pull took longer than %s (--pull-timeout): %w", timeout, err)
	case strings.Contains(err.Error(), "no match for platform"):
		return fmt.Errorf("the image is not built for this worker's platform (%s): %w", platforms.DefaultString(), err)
	}
	return err
}

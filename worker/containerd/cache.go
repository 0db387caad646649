package containerd

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"baton.dev/baton/registry"
)

// collectTimeout bounds one collection: listing images and containers,
// walking new images' manifests and deleting images.
const collectTimeout = 2 * time.Minute

// imageCache bounds the images a worker pulled from registries: when their
// content exceeds Config.ImageCacheBytes, the images no sandbox uses are
// removed, least recently used first, until the rest fits. Pulled images
// otherwise stay in containerd forever: every function a worker ever ran
// would keep its layers on the disk.
//
// The policy:
//
//   - Only images pulled from registries are candidates. Local images
//     (baton.local) come from archives at start and cannot be pulled
//     again, so they are never removed, and the blobs they hold are not
//     counted against the budget either: removing pulled images would not
//     free them. Nor are image records whose names are no registry
//     reference (nothing could pull them back).
//   - An image any container of the runtime's namespace was made from is
//     never removed, whatever the budget says: its sandbox runs on it.
//     Nor is an image a sandbox creation or a pull is working on right
//     now: both pin it (pin) for their duration, and a pin waits while the
//     image is being removed, so a creation after a removal pulls it
//     again rather than finding half an image.
//   - Least recently used is by the time a sandbox was last created from
//     the image (as pinned). Images found with no such record (at Open,
//     or pulled by someone else) count as used when their newest
//     container was created, or else when their image record was created
//     or last updated: a worker that restarts keeps the order it had,
//     roughly.
//   - The size is that of the content store: the distinct blobs
//     (manifests, configs and compressed layers, for this worker's
//     platform) the pulled images reference, each counted once however
//     many images share it, and none a local image references. That is
//     what removing them all would free from the content store, so a base
//     layer many functions share costs its size once, not once per
//     function. Unpacked snapshots are not counted: they take about the
//     layers' uncompressed size again, which is why the budget is a
//     budget of content, not of the disk.
//
// Collections run after each successful pull (in the background, so a
// cold start does not wait for it) and after each sandbox Delete, one at
// a time. Below the budget a collection costs two listings (and a walk of
// the manifests of an image it has not seen before). Removing an
// image deletes its record with a synchronous delete, so containerd's
// garbage collector has removed its content and snapshots when the call
// returns.
type imageCache struct {
	r      *Runtime
	budget int64 // bytes; 0: no budget, the cache does nothing

	gc sync.Mutex // one collection at a time; guards sizes

	mu       sync.Mutex
	cond     *sync.Cond           // on mu: a removal ended
	lastUse  map[string]time.Time // image name → last sandbox creation
	pins     map[string]int       // image name → creations and pulls using it
	removing map[string]bool      // image name → being removed
	closed   bool
	running  sync.WaitGroup // background collections

	// sizes holds the blobs of each image target walked: target digest →
	// blob digest → size. Only collections (under gc) use it.
	sizes map[digest.Digest]map[digest.Digest]int64

	// What the last collection found, and what all removed.
	images    atomic.Int64
	bytes     atomic.Int64
	collected atomic.Int64
}

func newImageCache(r *Runtime, budget int64) *imageCache {
	c := &imageCache{
		r: r, budget: budget,
		lastUse:  map[string]time.Time{},
		pins:     map[string]int{},
		removing: map[string]bool{},
		sizes:    map[digest.Digest]map[digest.Digest]int64{},
	}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// CacheStats reports the images pulled from registries that this worker
// holds and the bytes of their content (distinct blobs, as the last
// collection counted them), and how many images collections removed.
// Without a budget (Config.ImageCacheBytes 0) nothing is counted.
func (r *Runtime) CacheStats() (images int, bytes int64, collected int64) {
	return int(r.cache.images.Load()), r.cache.bytes.Load(), r.cache.collected.Load()
}

// start runs the first collection, when the runtime opens: it records
// when the images found were last used, before their sandboxes go away,
// and brings a cache a smaller budget now bounds under it.
func (c *imageCache) start(ctx context.Context) {
	if c.budget <= 0 {
		return
	}
	c.collect(ctx, "worker start")
	images, bytes, _ := c.r.CacheStats()
	c.r.log.Info("image cache", "images", images, "bytes", bytes, "budget", c.budget)
}

// pin marks image name as in use by a creation or a pull until the
// returned function is called, and as used now. It waits while the image
// is being removed.
func (c *imageCache) pin(name string) (unpin func()) {
	if c.budget <= 0 {
		return func() {}
	}
	c.mu.Lock()
	for c.removing[name] {
		c.cond.Wait()
	}
	c.pins[name]++
	c.lastUse[name] = time.Now()
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.pins[name]--; c.pins[name] <= 0 {
				delete(c.pins, name)
			}
			c.lastUse[name] = time.Now()
			c.mu.Unlock()
		})
	}
}

// claim marks name as being removed, unless a creation or a pull holds it
// or used it since lastUse.
func (c *imageCache) claim(name string, lastUse time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pins[name] > 0 || c.removing[name] || c.r.pulls.inFlight(name) || c.lastUse[name].After(lastUse) {
		return false
	}
	c.removing[name] = true
	return true
}

// unclaim ends a removal; gone says the image was removed.
func (c *imageCache) unclaim(name string, gone bool) {
	c.mu.Lock()
	delete(c.removing, name)
	if gone && c.pins[name] == 0 {
		delete(c.lastUse, name)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// background runs a collection in the background; Close waits for it.
func (c *imageCache) background(why string) {
	if c.budget <= 0 {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.running.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.running.Done()
		c.collect(context.Background(), why)
	}()
}

// close waits for the background collections; later ones do not start.
func (c *imageCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.running.Wait()
}

// collect removes unused pulled images, least recently used first, while
// their content exceeds the budget. why (what triggered it) goes into the
// logs; errors are logged, not returned: the cache is housekeeping.
func (c *imageCache) collect(ctx context.Context, why string) {
	if c.budget <= 0 {
		return
	}
	c.gc.Lock()
	defer c.gc.Unlock()
	ctx, cancel := context.WithTimeout(c.r.ctx(context.WithoutCancel(ctx)), collectTimeout)
	defer cancel()
	if err := c.run(ctx, why); err != nil {
		c.r.log.Warn("image cache: collection failed", "after", why, "err", err)
	}
}

func (c *imageCache) run(ctx context.Context, why string) error {
	imgs, err := c.r.client.ImageService().List(ctx)
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	used, err := c.containerImages(ctx)
	if err != nil {
		return err
	}
	var pulled []images.Image
	local := map[digest.Digest]bool{}
	sizes := map[digest.Digest]map[digest.Digest]int64{}
	for _, img := range imgs {
		blobs, err := c.blobs(ctx, img)
		if err != nil {
			// Counted as nothing: one unreadable image must not stop
			// the cache.
			c.r.log.Warn("image cache: cannot size an image", "image", img.Name, "err", err)
		}
		sizes[img.Target.Digest] = blobs
		if !pulledImage(img.Name) {
			for d := range blobs {
				local[d] = true
			}
			continue
		}
		pulled = append(pulled, img)
	}
	for t := range c.sizes {
		if _, ok := sizes[t]; !ok {
			delete(c.sizes, t)
		}
	}

	// Last uses: records of pins, else the newest container, else the
	// image record's times. Forget images gone that nothing pins.
	c.mu.Lock()
	present := map[string]bool{}
	for _, img := range pulled {
		present[img.Name] = true
		if _, ok := c.lastUse[img.Name]; !ok {
			t := img.CreatedAt
			for _, u := range []time.Time{img.UpdatedAt, used[img.Name]} {
				if u.After(t) {
					t = u
				}
			}
			c.lastUse[img.Name] = t
		}
	}
	for name := range c.lastUse {
		if !present[name] && c.pins[name] == 0 {
			delete(c.lastUse, name)
		}
	}
	lastUse := make(map[string]time.Time, len(pulled))
	for _, img := range pulled {
		lastUse[img.Name] = c.lastUse[img.Name]
	}
	c.mu.Unlock()

	total := contentSize(pulled, sizes, local)
	c.images.Store(int64(len(pulled)))
	c.bytes.Store(total)
	if total <= c.budget {
		return nil
	}

	var candidates []images.Image
	for _, img := range pulled {
		if _, inUse := used[img.Name]; !inUse {
			candidates = append(candidates, img)
		}
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		return lastUse[candidates[i].Name].Before(lastUse[candidates[j].Name])
	})
	for _, img := range candidates {
		if total <= c.budget {
			break
		}
		if !c.claim(img.Name, lastUse[img.Name]) {
			continue // a creation or a pull works on it, or just did
		}
		// The listing above may predate a sandbox made from it since; no
		// new one can start now that it is claimed.
		now, err := c.containerImages(ctx)
		if err != nil {
			c.unclaim(img.Name, false)
			return err
		}
		if _, inUse := now[img.Name]; inUse {
			c.unclaim(img.Name, false)
			continue
		}
		err = c.r.client.ImageService().Delete(ctx, img.Name, images.SynchronousDelete())
		c.unclaim(img.Name, err == nil || errdefs.IsNotFound(err))
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove image %s: %w", img.Name, err)
		}
		rest := pulled[:0:0]
		for _, p := range pulled {
			if p.Name != img.Name {
				rest = append(rest, p)
			}
		}
		pulled = rest
		after := contentSize(pulled, sizes, local)
		c.collected.Add(1)
		c.images.Store(int64(len(pulled)))
		c.bytes.Store(after)
		c.r.log.Info("image collected from the cache", "image", img.Name, "bytes", total-after,
			"why", fmt.Sprintf("pulled images held %d bytes, over the image cache budget of %d bytes (--image-cache), and of the images no sandbox uses this was the least recently used (last used %s)",
				total, c.budget, lastUse[img.Name].Format(time.RFC3339)),
			"after", why, "cache_bytes", after, "cache_images", len(pulled))
		total = after
	}
	if total > c.budget {
		c.r.log.Debug("image cache over its budget: the images left are in use", "bytes", total, "budget", c.budget, "images", len(pulled))
	}
	return nil
}

// pulledImage reports whether the image record name is of an image pulled
// from a registry: not a local one (baton.local), and a reference a pull
// could have made.
func pulledImage(name string) bool {
	return !registry.Local(name) && registry.Host(name) != ""
}

// containerImages returns the images the runtime namespace's containers
// were made from, each with its newest container's creation time.
func (c *imageCache) containerImages(ctx context.Context) (map[string]time.Time, error) {
	containers, err := c.r.client.ContainerService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	used := map[string]time.Time{}
	for _, ct := range containers {
		if ct.Image == "" {
			continue
		}
		if t, ok := used[ct.Image]; !ok || ct.CreatedAt.After(t) {
			used[ct.Image] = ct.CreatedAt
		}
	}
	return used, nil
}

// contentSize is the size of the distinct blobs imgs reference, by sizes (image
// target → blob → size), less those in skip.
func contentSize(imgs []images.Image, sizes map[digest.Digest]map[digest.Digest]int64, skip map[digest.Digest]bool) int64 {
	seen := map[digest.Digest]bool{}
	var n int64
	for _, img := range imgs {
		for d, size := range sizes[img.Target.Digest] {
			if !seen[d] && !skip[d] {
				seen[d] = true
				n += size
			}
		}
	}
	return n
}

// blobs returns the blobs img references for this worker's platform,
// walking its manifests the first time its target is seen. Blobs missing
// from the content store (a manifest another platform's) are left out,
// and such a walk is made again next time.
func (c *imageCache) blobs(ctx context.Context, img images.Image) (map[digest.Digest]int64, error) {
	if b, ok := c.sizes[img.Target.Digest]; ok {
		return b, nil
	}
	children := images.LimitManifests(images.ChildrenHandler(c.r.client.ContentStore()), platforms.Default(), 1)
	blobs := map[digest.Digest]int64{}
	complete := true
	err := images.Walk(ctx, images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		next, err := children(ctx, desc)
		if errdefs.IsNotFound(err) {
			complete = false
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if desc.Size > 0 {
			blobs[desc.Digest] = desc.Size
		}
		return next, nil
	}), img.Target)
	if err != nil {
		return nil, fmt.Errorf("size of image %s: %w", img.Name, err)
	}
	if complete {
		c.sizes[img.Target.Digest] = blobs
	}
	return blobs, nil
}

package containerd_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/sandboxtest"
)

const cacheSubnet = "10.179.9.0/24"

// TestImageCacheCollectsLeastRecentlyUsed runs three runnable images from
// a real registry (the test function, each with a random layer of its own)
// on a runtime whose image cache fits one of them but not two: an image a
// running sandbox uses stays however far over the budget the cache is,
// even when it is the least recently used; an unused one goes, least
// recently used first, its record gone from containerd; the local image
// is never counted nor collected; and a collected image is pulled again by
// the next cold start, which works.
func TestImageCacheCollectsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartRegistry(t, false)
	archive := filepath.Join(testenv.Images(t), "testfn-ok.tar")
	base, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Same base layers, a random layer each, larger than them: distinct
	// content, so that two images hold more than any one, whether the
	// local image holds the base layers (then they are not the cache's)
	// or not.
	names := []string{"acme/a:1", "acme/b:1", "acme/c:1"}
	refs := map[string]string{}
	blobs := map[string]map[string]int64{} // image → its blobs' digests and sizes
	var largest, leastOwn int64
	for _, name := range names {
		layer, err := random.Layer(8<<20, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, layer)
		if err != nil {
			t.Fatal(err)
		}
		reg.PushImage(t, img, name)
		refs[name] = reg.Host + "/" + name
		var all, own int64
		blobs[name], all, own = imageBlobs(t, img)
		largest = max(largest, all)
		if leastOwn == 0 || own < leastOwn {
			leastOwn = own
		}
	}
	a, b, c := refs[names[0]], refs[names[1]], refs[names[2]]
	budget := (largest + 2*leastOwn) / 2 // any one image, never two

	localDir := t.TempDir()
	if err := os.Symlink(archive, filepath.Join(localDir, "testfn-ok.tar")); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, cacheSubnet)
	cfg.ImagesDir = localDir // one local image, which is not the cache's
	cfg.Registries = registry.Hosts{CAFile: reg.CAFile}
	cfg.ImageCacheBytes = budget
	rt := openWith(t, cfg)

	client, err := ctrd.New(cfg.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nctx := namespaces.WithNamespace(ctx, containerd.DefaultNamespace)
	// What the cache should count: the distinct blobs of the images, less
	// those the local image holds (all there is before the first pull).
	local := map[string]bool{}
	for _, name := range names {
		for d := range blobs[name] {
			if _, err := client.ContentStore().Info(nctx, digest.Digest(d)); err == nil {
				local[d] = true
			} else if !errdefs.IsNotFound(err) {
				t.Fatal(err)
			}
		}
	}
	want := func(names ...string) int64 {
		seen := map[string]bool{}
		var n int64
		for _, name := range names {
			for d, size := range blobs[name] {
				if !seen[d] && !local[d] {
					seen[d] = true
					n += size
				}
			}
		}
		return n
	}
	for _, x := range names {
		for _, y := range names {
			if x != y && (want(x) > budget || want(x, y) <= budget) {
				t.Fatalf("budget %d: image %s counts %d bytes, with %s %d: want one under, two over", budget, x, want(x), y, want(x, y))
			}
		}
	}
	t.Logf("budget %d bytes; one image counts %d, two %d (%d blobs shared with the local image)", budget, want(names[0]), want(names[0], names[1]), len(local))

	has := func(ref string) bool {
		t.Helper()
		_, err := client.ImageService().Get(nctx, ref)
		if err != nil && !errdefs.IsNotFound(err) {
			t.Fatalf("image %s: %v", ref, err)
		}
		return err == nil
	}
	create := func(ref string) worker.Sandbox {
		t.Helper()
		sb := sandboxtest.Create(t, rt, worker.SandboxSpec{ID: sandboxtest.NewID("cache"), Function: "t/w/f",
			Image: ref, CPUMilli: 250, MemoryBytes: 64 << 20})
		if status, body, err := sandboxtest.Post(ctx, sb.Endpoint, "hello"); err != nil || status != 200 || body != "hello" {
			t.Fatalf("POST to %s = %d %q, %v", ref, status, body, err)
		}
		return sb
	}
	del := func(sb worker.Sandbox) {
		t.Helper()
		if err := rt.Delete(ctx, sb.ID); err != nil {
			t.Fatalf("Delete %s: %v", sb.ID, err)
		}
	}
	// A pull's collection runs in the background: wait for it to count.
	waitStats := func(what string, ok func(images int, bytes, collected int64) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, bytes, collected := rt.CacheStats()
			if ok(n, bytes, collected) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: CacheStats = %d images, %d bytes, %d collected", what, n, bytes, collected)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A, then B, both running: over the budget, nothing to collect.
	sbA := create(a)
	waitStats("after the pull of A", func(n int, bytes, _ int64) bool { return n == 1 && bytes == want(names[0]) })
	sbB := create(b)
	waitStats("after the pull of B", func(n int, bytes, _ int64) bool { return n == 2 })
	if n, bytes, collected := rt.CacheStats(); bytes != want(names[0], names[1]) || bytes <= budget || collected != 0 {
		t.Fatalf("with A and B running: CacheStats = %d images, %d bytes, %d collected; want %d bytes (shared blobs once), over the budget, none collected",
			n, bytes, collected, want(names[0], names[1]))
	}

	// B's sandbox goes: B is collected, though A is the least recently
	// used, because A runs.
	del(sbB)
	if has(b) {
		t.Errorf("B, unused, is still in containerd with the cache over its budget")
	}
	if !has(a) {
		t.Fatalf("A, which a running sandbox uses, was collected")
	}
	if n, bytes, collected := rt.CacheStats(); n != 1 || bytes != want(names[0]) || collected != 1 {
		t.Errorf("after B's collection: CacheStats = %d images, %d bytes, %d collected; want 1, %d, 1", n, bytes, collected, want(names[0]))
	}

	// A's sandbox goes: A alone fits, it stays.
	del(sbA)
	if !has(a) {
		t.Fatalf("A was collected though it alone fits the budget")
	}

	// C is pulled and used: A, unused and least recently used, goes; C,
	// in use, stays.
	sbC := create(c)
	waitStats("after the pull of C", func(n int, _, collected int64) bool { return collected == 2 && n == 1 })
	if has(a) {
		t.Errorf("A, the least recently used, is still in containerd")
	}
	if !has(c) {
		t.Errorf("C, in use, was collected")
	}

	// A's next cold start pulls it again, and it works.
	pulls, _ := rt.PullStats()
	sbA2 := create(a)
	if after, _ := rt.PullStats(); after != pulls+1 || sbA2.ColdStart.Pull <= 0 {
		t.Errorf("the cold start of a collected image made %d pulls (pull phase %v), want 1", after-pulls, sbA2.ColdStart.Pull)
	}
	waitStats("after A's second pull", func(n int, _, _ int64) bool { return n == 2 })
	if !has(a) || !has(c) {
		t.Errorf("an image in use was collected: A %v, C %v", has(a), has(c))
	}
	if _, _, collected := rt.CacheStats(); collected != 2 {
		t.Errorf("%d images collected, want 2 (A and C both run)", collected)
	}
	if !has(sandboxtest.ImageOK) {
		t.Errorf("the local image %s was removed", sandboxtest.ImageOK)
	}
	del(sbC)
	del(sbA2)
}

// imageBlobs returns img's blobs (manifest, config, layers) by digest with
// their sizes, their total, and the total of those not in the test
// function's base layers (all but the last).
func imageBlobs(t *testing.T, img v1.Image) (blobs map[string]int64, all, own int64) {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	blobs = map[string]int64{d.String(): int64(len(raw)), m.Config.Digest.String(): m.Config.Size}
	for _, l := range m.Layers {
		blobs[l.Digest.String()] = l.Size
	}
	for _, size := range blobs {
		all += size
	}
	return blobs, all, int64(len(raw)) + m.Config.Size + m.Layers[len(m.Layers)-1].Size
}

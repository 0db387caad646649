package containerd_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/sandboxtest"
)

const pullSubnet = "10.179.7.0/24"

// TestPullFromARegistry runs sandboxes of images that only a real
// registry (TLS with a test CA, htpasswd logins) has: concurrent cold
// starts of a never-pulled image make one pull; the pull shows as its own
// phase; a cached image keeps starting while the registry is down, and a
// never-pulled one fails naming the registry; wrong logins and images over
// the size limit fail clearly and leave nothing behind.
func TestPullFromARegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartRegistry(t, true)
	archive := filepath.Join(testenv.Images(t), "testfn-ok.tar")
	reg.Push(t, archive, "acme/ok:1")
	digest := reg.Push(t, archive, "acme/other:1")
	auth := &worker.PullAuth{Host: reg.Host, Username: reg.Username, Password: reg.Password}

	cfg := testConfig(t, pullSubnet)
	cfg.ImagesDir = "" // nothing local: every image comes from the registry
	cfg.Registries = registry.Hosts{CAFile: reg.CAFile}
	rt := openWith(t, cfg)

	t.Run("concurrent cold starts make one pull", func(t *testing.T) {
		const n = 6
		before, _ := rt.PullStats()
		var wg sync.WaitGroup
		sbs := make([]worker.Sandbox, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				sbs[i], errs[i] = rt.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("pull"), Function: "t/w/f",
					Image: reg.Host + "/acme/ok:1", CPUMilli: 250, MemoryBytes: 64 << 20, PullAuth: auth})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
			t.Cleanup(func() { _ = rt.Delete(ctx, sbs[i].ID) })
			if err := sandboxtest.Health(ctx, sbs[i].Endpoint); err != nil {
				t.Errorf("sandbox %d: %v", i, err)
			}
		}
		after, bytes := rt.PullStats()
		if after-before != 1 {
			t.Errorf("%d concurrent cold starts made %d pulls, want 1", n, after-before)
		}
		if bytes <= 0 {
			t.Errorf("the pull counted %d bytes", bytes)
		}
		pulled := 0
		for _, sb := range sbs {
			if sb.ColdStart.Pull > 0 && sb.ColdStart.Pull >= sb.ColdStart.Image {
				pulled++
			}
		}
		if pulled == 0 {
			t.Errorf("no cold start shows the pull as its own phase: %+v", sbs[0].ColdStart)
		}
	})

	t.Run("a pinned digest pulls the bits it names", func(t *testing.T) {
		ref := reg.Host + "/acme/other@" + digest
		sb := sandboxtest.Create(t, rt, worker.SandboxSpec{ID: sandboxtest.NewID("dig"), Function: "t/w/f", Image: ref, CPUMilli: 250, MemoryBytes: 64 << 20, PullAuth: auth})
		if sb.ColdStart.Pull == 0 {
			t.Errorf("no pull phase for a never-pulled digest: %+v", sb.ColdStart)
		}
	})

	t.Run("wrong login", func(t *testing.T) {
		bad := *auth
		bad.Password = "not-the-password-4d1"
		_, err := rt.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("login"), Function: "t/w/f", Image: reg.Host + "/acme/fresh:1", PullAuth: &bad})
		if err == nil || !strings.Contains(err.Error(), reg.Host) || strings.Contains(err.Error(), bad.Password) {
			t.Fatalf("Create = %v, want an error naming the registry, without the password", err)
		}
	})

	t.Run("the registry down", func(t *testing.T) {
		reg.Push(t, archive, "acme/fresh:1")
		reg.Stop()
		defer reg.Restart(t)
		before, _ := rt.PullStats()
		sandboxtest.Create(t, rt, worker.SandboxSpec{ID: sandboxtest.NewID("cached"), Function: "t/w/f", Image: reg.Host + "/acme/ok:1", PullAuth: auth})
		if after, _ := rt.PullStats(); after != before {
			t.Errorf("a cached image was pulled again (%d pulls, was %d)", after, before)
		}
		_, err := rt.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("down"), Function: "t/w/f", Image: reg.Host + "/acme/fresh:1", PullAuth: auth})
		if err == nil || !strings.Contains(err.Error(), reg.Host) || !strings.Contains(err.Error(), "acme/fresh") {
			t.Fatalf("Create with the registry down = %v, want an error naming the image and the registry", err)
		}
	})

	t.Run("an image over the size limit", func(t *testing.T) {
		small := testConfig(t, "10.179.8.0/24")
		small.ImagesDir = ""
		small.Registries = registry.Hosts{CAFile: reg.CAFile}
		small.PullMaxBytes = 4096
		srt := openWith(t, small)
		id := sandboxtest.NewID("big")
		_, err := srt.Create(ctx, worker.SandboxSpec{ID: id, Function: "t/w/f", Image: reg.Host + "/acme/ok:1", PullAuth: auth})
		if err == nil || !strings.Contains(err.Error(), "pull limit") {
			t.Fatalf("Create = %v, want the pull limit named", err)
		}
		client, err := ctrd.New(small.Address)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		nctx := namespaces.WithNamespace(ctx, containerd.DefaultNamespace)
		if _, err := client.LoadContainer(nctx, id); err == nil {
			t.Errorf("a container was left after the refused pull")
		}
		imgs, err := client.ImageService().List(nctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range imgs {
			if strings.Contains(img.Name, "acme/ok") {
				t.Errorf("an image record was left after the refused pull: %s", img.Name)
			}
		}
	})
}

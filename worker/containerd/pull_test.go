package containerd_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

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
		before, beforeBytes := rt.PullStats()
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
		fetched := bytes - beforeBytes
		if fetched <= 0 {
			t.Errorf("the pull counted %d bytes", fetched)
		}
		pulled := 0
		for i, sb := range sbs {
			if sb.ColdStart.Pull > 0 && sb.ColdStart.Pull >= sb.ColdStart.Image {
				pulled++
			}
			if sb.ColdStart.PullBytes != fetched {
				t.Errorf("cold start %d reports %d pulled bytes, the one shared pull fetched %d", i, sb.ColdStart.PullBytes, fetched)
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

	t.Run("an image for another platform", func(t *testing.T) {
		img, err := tarball.ImageFromPath(archive, nil)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Architecture = "s390x"
		if cf.Architecture == runtime.GOARCH {
			cf.Architecture = "riscv64"
		}
		other, err := mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		reg.PushImage(t, other, "acme/elsewhere:1")
		_, err = rt.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("plat"), Function: "t/w/f", Image: reg.Host + "/acme/elsewhere:1", PullAuth: auth})
		if err == nil || !strings.Contains(err.Error(), "platform") {
			t.Fatalf("Create = %v, want an error saying the platform does not match", err)
		}
	})

	t.Run("a pull cut short leaves nothing a later pull serves", func(t *testing.T) {
		reg.Push(t, archive, "acme/cut:1")
		cut := testConfig(t, "10.179.10.0/24")
		cut.ImagesDir = ""
		cut.Registries = registry.Hosts{CAFile: reg.CAFile}
		cut.PullTimeout = time.Millisecond // ends the pull mid-way, as a killed worker would
		crt := openWith(t, cut)
		if _, err := crt.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("cut"), Function: "t/w/f", Image: reg.Host + "/acme/cut:1", PullAuth: auth}); err == nil {
			t.Fatal("a pull with a 1ms timeout succeeded: the test proves nothing")
		}
		// The next runtime on the same containerd (the worker started
		// again) pulls what is missing and runs it.
		again := cut
		again.StateDir = testenv.RunDir(t, "baton-rt-")
		again.PullTimeout = time.Minute
		art := openWith(t, again)
		sandboxtest.Create(t, art, worker.SandboxSpec{ID: sandboxtest.NewID("again"), Function: "t/w/f", Image: reg.Host + "/acme/cut:1", PullAuth: auth})
	})

	t.Run("two workers pull the same image each once", func(t *testing.T) {
		reg.Push(t, archive, "acme/shared:1")
		second := testConfig(t, "10.179.11.0/24")
		second.ImagesDir = ""
		second.Registries = registry.Hosts{CAFile: reg.CAFile}
		rt2 := openWith(t, second)
		b1, _ := rt.PullStats()
		var wg sync.WaitGroup
		for i, r := range []*containerd.Runtime{rt, rt2} {
			wg.Go(func() {
				sb := sandboxtest.Create(t, r, worker.SandboxSpec{ID: sandboxtest.NewID(fmt.Sprintf("two%d", i)), Function: "t/w/f", Image: reg.Host + "/acme/shared:1", PullAuth: auth})
				if sb.ColdStart.Pull == 0 {
					t.Errorf("worker %d did not pull", i)
				}
			})
		}
		wg.Wait()
		a1, _ := rt.PullStats()
		a2, _ := rt2.PullStats()
		if a1-b1 != 1 || a2 != 1 {
			t.Errorf("pulls: first worker %d, second %d; want one each", a1-b1, a2)
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

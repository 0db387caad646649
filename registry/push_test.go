package registry_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/registry"
)

// TestPush pushes image archives to a real registry (TLS with a test CA,
// htpasswd logins) and checks that the tag then pins to the digest Push
// returned: a function image as `baton images build` writes it (a docker
// archive), and OCI layouts in a tar holding one image and one
// multi-platform index. Every failure names the archive or the registry
// and never shows the password.
func TestPush(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := testenv.StartRegistry(t, true)
	hosts := registry.Hosts{CAFile: reg.CAFile}
	cred := &registry.Credential{Username: reg.Username, Password: reg.Password}
	p, err := registry.NewPinner(hosts)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(testenv.Images(t), "testfn-ok.tar")
	pinsTo := func(t *testing.T, ref, digest string) {
		t.Helper()
		got, err := p.Pin(ctx, ref, cred)
		if err != nil {
			t.Fatalf("pin %s after the push: %v", ref, err)
		}
		if got.Digest != digest {
			t.Fatalf("%s pins to %s, Push returned %s", ref, got.Digest, digest)
		}
	}

	t.Run("a docker archive", func(t *testing.T) {
		ref := reg.Host + "/acme/testfn:1"
		digest, err := registry.Push(ctx, hosts, archive, ref, cred)
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(archive, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := img.Digest(); digest != want.String() {
			t.Fatalf("Push returned %s, the archive's image is %s", digest, want)
		}
		pinsTo(t, ref, digest)
		again, err := registry.Push(ctx, hosts, archive, ref, cred)
		if err != nil || again != digest {
			t.Fatalf("pushing the same archive again: %s, %v; want %s", again, err, digest)
		}
	})

	t.Run("an OCI layout holding one image", func(t *testing.T) {
		img, err := random.Image(1024, 2)
		if err != nil {
			t.Fatal(err)
		}
		ociTar := writeLayoutTar(t, func(l layout.Path) error { return l.AppendImage(img) })
		ref := reg.Host + "/acme/oci-image:1"
		digest, err := registry.Push(ctx, hosts, ociTar, ref, cred)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := img.Digest(); digest != want.String() {
			t.Fatalf("Push returned %s, the layout's image is %s", digest, want)
		}
		pinsTo(t, ref, digest)
	})

	t.Run("an OCI layout holding a multi-platform index", func(t *testing.T) {
		idx, err := random.Index(512, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		ociTar := writeLayoutTar(t, func(l layout.Path) error { return l.AppendIndex(idx) })
		ref := reg.Host + "/acme/oci-index:1"
		digest, err := registry.Push(ctx, hosts, ociTar, ref, cred)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := idx.Digest(); digest != want.String() {
			t.Fatalf("Push returned %s, the layout's index is %s", digest, want)
		}
		pinsTo(t, ref, digest)
	})

	dir := t.TempDir()
	notTar := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notTar, []byte("not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	twoImages := writeLayoutTar(t, func(l layout.Path) error {
		for range 2 {
			img, err := random.Image(256, 1)
			if err != nil {
				return err
			}
			if err := l.AppendImage(img); err != nil {
				return err
			}
		}
		return nil
	})
	missing := filepath.Join(dir, "no-such-image.tar")
	wrong := &registry.Credential{Username: reg.Username, Password: "not-the-password-51c"}
	ref := reg.Host + "/acme/testfn:2"
	failures := []struct {
		name    string
		hosts   registry.Hosts
		archive string
		ref     string
		cred    *registry.Credential
		want    []string
		is      error
	}{
		{"wrong password", hosts, archive, ref, wrong, []string{"refused the login", reg.Host}, nil},
		{"no login", hosts, archive, ref, nil, []string{"refused the login", reg.Host}, nil},
		{"the registry's CA not trusted", registry.Hosts{}, archive, ref, cred, []string{"--registry-ca", reg.Host}, nil},
		{"a missing archive", hosts, missing, ref, cred, []string{missing, "no such file"}, fs.ErrNotExist},
		{"a file that is no archive", hosts, notTar, ref, cred, []string{notTar, "not a tar archive"}, nil},
		{"a layout of two images", hosts, twoImages, ref, cred, []string{twoImages, "2 manifests"}, nil},
		{"a local reference", hosts, archive, "baton.local/fn-detect:v1", cred, []string{"not a registry"}, nil},
		{"a digest reference", hosts, archive, reg.Host + "/acme/testfn@sha256:" + strings.Repeat("a", 64), cred, []string{"give a tag"}, nil},
		{"a reference that does not parse", hosts, archive, reg.Host + "/Acme/testfn:1", cred, []string{"invalid image reference"}, nil},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			_, err := registry.Push(ctx, f.hosts, f.archive, f.ref, f.cred)
			if err == nil {
				t.Fatal("Push succeeded")
			}
			t.Logf("Push: %v", err)
			for _, w := range f.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Push = %v, want an error containing %q", err, w)
				}
			}
			if f.is != nil && !errors.Is(err, f.is) {
				t.Errorf("Push = %v, want it to wrap %v", err, f.is)
			}
			if f.cred != nil && strings.Contains(err.Error(), f.cred.Password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	if _, err := p.Pin(ctx, ref, cred); err == nil {
		t.Errorf("%s exists after only failed pushes", ref)
	}

	t.Run("a registry that is down", func(t *testing.T) {
		reg.Stop()
		defer reg.Restart(t)
		_, err := registry.Push(ctx, hosts, archive, reg.Host+"/acme/testfn:3", cred)
		if err == nil || !strings.Contains(err.Error(), reg.Host) {
			t.Fatalf("Push = %v, want an error naming the registry", err)
		}
	})
}

// TestPushPlainHTTPOnlyWhenInsecure pushes to a registry that speaks only
// plain HTTP on a loopback address: refused unless the host is listed as
// insecure (go-containerregistry alone would fall back to HTTP there).
func TestPushPlainHTTPOnlyWhenInsecure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "img.tar")
	if err := tarball.WriteToFile(archive, nil, img); err != nil {
		t.Fatal(err)
	}
	ref := host + "/acme/plain:1"

	_, err = registry.Push(ctx, registry.Hosts{}, archive, ref, nil)
	if err == nil || !strings.Contains(err.Error(), "--insecure-registry") {
		t.Fatalf("Push over plain HTTP without --insecure-registry = %v, want a refusal", err)
	}
	t.Logf("Push: %v", err)
	digest, err := registry.Push(ctx, registry.Hosts{Insecure: []string{host}}, archive, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := registry.NewPinner(registry.Hosts{Insecure: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Pin(ctx, ref, nil)
	if err != nil || got.Digest != digest {
		t.Fatalf("pin after the push: %+v, %v; want %s", got, err, digest)
	}
}

// writeLayoutTar writes an OCI image layout filled by add into a tar file
// and returns its path.
func writeLayoutTar(t *testing.T, add func(layout.Path) error) string {
	t.Helper()
	dir := t.TempDir()
	l, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := add(l); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "layout.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(string(l))); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

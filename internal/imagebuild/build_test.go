package imagebuild

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBuildTestFunctions(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx := context.Background()
	images, err := BuildTestFunctions(ctx, root, out)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if len(images) != len(TestFunctionModes()) {
		t.Fatalf("got %d images, want %d", len(images), len(TestFunctionModes()))
	}
	for i, mode := range TestFunctionModes() {
		img := images[i]
		if img.Ref != "baton.local/testfn-"+mode+":v1" {
			t.Errorf("image %d: ref %q", i, img.Ref)
		}
		tag, err := name.NewTag(img.Ref)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := tarball.ImageFromPath(img.Archive, &tag)
		if err != nil {
			t.Fatalf("read %s: %v", img.Archive, err)
		}
		cfg, err := loaded.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OS != "linux" || cfg.Architecture != "amd64" {
			t.Errorf("%s: platform %s/%s", img.Ref, cfg.OS, cfg.Architecture)
		}
		if !slices.Equal(cfg.Config.Entrypoint, []string{"/fn"}) {
			t.Errorf("%s: entrypoint %q", img.Ref, cfg.Config.Entrypoint)
		}
		if !slices.Contains(cfg.Config.Env, "BATON_TESTFN_MODE="+mode) {
			t.Errorf("%s: env %q lacks the mode", img.Ref, cfg.Config.Env)
		}
		layers, err := loaded.Layers()
		if err != nil || len(layers) != 1 {
			t.Errorf("%s: %d layers (%v), want 1", img.Ref, len(layers), err)
		}
	}

	// A second build with unchanged sources keeps the archives as they are.
	before, err := os.Stat(images[0].Archive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildTestFunctions(ctx, root, out); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	after, err := os.Stat(images[0].Archive)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("fresh archive was rebuilt: %v then %v", before.ModTime(), after.ModTime())
	}
}

func TestBuildFunctionsSkipsLibrariesAndRebuildsStale(t *testing.T) {
	root := t.TempDir()
	write := func(path, content string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.test/m\n\ngo 1.22\n")
	write("dags/functions/lib/lib.go", "package lib\n\n// Greeting is shared.\nconst Greeting = \"hi\"\n")
	write("dags/functions/hello/main.go", "package main\n\nimport \"example.test/m/dags/functions/lib\"\n\nfunc main() { println(lib.Greeting) }\n")
	out := filepath.Join(root, "out")
	ctx := context.Background()
	images, err := BuildFunctions(ctx, root, out)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	want := []Image{{Ref: "baton.local/fn-hello:v1", Archive: filepath.Join(out, "fn-hello.tar")}}
	if !slices.Equal(images, want) {
		t.Fatalf("images = %v, want %v", images, want)
	}
	first, err := os.Stat(want[0].Archive)
	if err != nil {
		t.Fatal(err)
	}

	// Touching the shared library makes the archive stale.
	later := first.ModTime().Add(time.Second)
	if err := os.Chtimes(filepath.Join(root, "dags/functions/lib/lib.go"), later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildFunctions(ctx, root, out); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	second, err := os.Stat(want[0].Archive)
	if err != nil {
		t.Fatal(err)
	}
	if !second.ModTime().After(first.ModTime()) {
		t.Errorf("archive (%v) not rebuilt after the shared package changed", second.ModTime())
	}
}

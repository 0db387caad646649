package imagebuild

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Image is one built image archive.
type Image struct {
	// Ref is the image reference recorded in the archive, e.g.
	// "baton.local/fn-detect:v1".
	Ref string
	// Archive is the path of the docker-archive tarball.
	Archive string
}

// FunctionsDir is where the sample functions live, relative to the module root.
const FunctionsDir = "dags/functions"

// TestFunctionDir is the test function's package, relative to the module root.
const TestFunctionDir = "internal/testfn"

// TestFunctionModes returns the behaviours of the test function image
// (BATON_TESTFN_MODE); BuildTestFunctions packs one image per mode, named
// baton.local/testfn-MODE:v1.
func TestFunctionModes() []string { return []string{"ok", "fail500", "crash", "unhealthy"} }

// FunctionRef is the image reference BuildFunctions gives function name.
func FunctionRef(name string) string { return "baton.local/fn-" + name + ":v1" }

// TestFunctionRef is the image reference of the test function in mode.
func TestFunctionRef(mode string) string { return "baton.local/testfn-" + mode + ":v1" }

// BuildFunctions builds every main package directly under
// moduleRoot/dags/functions into a static binary and packs it as
// baton.local/fn-NAME:v1 into outDir/fn-NAME.tar. Directories that hold no
// main package (shared libraries) are skipped. An archive newer than every
// Go file of its function, of the shared packages and than go.mod/go.sum is
// kept as it is. Concurrent callers on the same outDir take turns.
func BuildFunctions(ctx context.Context, moduleRoot, outDir string) ([]Image, error) {
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	fnRoot := filepath.Join(root, FunctionsDir)
	entries, err := os.ReadDir(fnRoot)
	if err != nil {
		return nil, fmt.Errorf("build functions: read %s (is %s the repository root?): %w", fnRoot, root, err)
	}
	var mains, shared []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(fnRoot, e.Name())
		isMain, hasGo, err := packageKind(dir)
		if err != nil {
			return nil, fmt.Errorf("build functions: %w", err)
		}
		switch {
		case isMain:
			mains = append(mains, e.Name())
		case hasGo:
			shared = append(shared, dir)
		}
	}
	if len(mains) == 0 {
		return nil, fmt.Errorf("build functions: no main package under %s", fnRoot)
	}
	sort.Strings(mains)
	commonInputs := append([]string{filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")}, shared...)

	unlock, err := lockDir(ctx, outDir)
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	defer unlock()

	var images []Image
	var stale []string
	for _, fn := range mains {
		img := Image{Ref: FunctionRef(fn), Archive: filepath.Join(outDir, "fn-"+fn+".tar")}
		images = append(images, img)
		fresh, err := upToDate(img.Archive, append([]string{filepath.Join(fnRoot, fn)}, commonInputs...))
		if err != nil {
			return nil, fmt.Errorf("build functions: %w", err)
		}
		if !fresh {
			stale = append(stale, fn)
		}
	}
	if len(stale) == 0 {
		return images, nil
	}
	pkgs := make([]string, len(stale))
	for i, fn := range stale {
		pkgs[i] = "./" + FunctionsDir + "/" + fn
	}
	binDir, err := goBuild(ctx, root, outDir, pkgs)
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	defer os.RemoveAll(binDir)
	for _, fn := range stale {
		if err := Pack(ctx, filepath.Join(binDir, fn), FunctionRef(fn), nil, filepath.Join(outDir, "fn-"+fn+".tar")); err != nil {
			return nil, fmt.Errorf("build functions: %w", err)
		}
	}
	return images, nil
}

// BuildTestFunctions builds moduleRoot/internal/testfn once and packs it as
// one image per TestFunctionModes entry (baton.local/testfn-MODE:v1 in
// outDir/testfn-MODE.tar), the images differing only by the environment
// variable BATON_TESTFN_MODE. Fresh archives are kept as BuildFunctions does.
func BuildTestFunctions(ctx context.Context, moduleRoot, outDir string) ([]Image, error) {
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		return nil, fmt.Errorf("build test functions: %w", err)
	}
	inputs := []string{filepath.Join(root, TestFunctionDir), filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")}

	unlock, err := lockDir(ctx, outDir)
	if err != nil {
		return nil, fmt.Errorf("build test functions: %w", err)
	}
	defer unlock()

	var images []Image
	allFresh := true
	for _, mode := range TestFunctionModes() {
		img := Image{Ref: TestFunctionRef(mode), Archive: filepath.Join(outDir, "testfn-"+mode+".tar")}
		images = append(images, img)
		fresh, err := upToDate(img.Archive, inputs)
		if err != nil {
			return nil, fmt.Errorf("build test functions: %w", err)
		}
		allFresh = allFresh && fresh
	}
	if allFresh {
		return images, nil
	}
	binDir, err := goBuild(ctx, root, outDir, []string{"./" + TestFunctionDir})
	if err != nil {
		return nil, fmt.Errorf("build test functions: %w", err)
	}
	defer os.RemoveAll(binDir)
	bin := filepath.Join(binDir, filepath.Base(TestFunctionDir))
	for i, mode := range TestFunctionModes() {
		if err := Pack(ctx, bin, images[i].Ref, []string{"BATON_TESTFN_MODE=" + mode}, images[i].Archive); err != nil {
			return nil, fmt.Errorf("build test functions: %w", err)
		}
	}
	return images, nil
}

// goBuild builds the main packages pkgs of the module at root as static
// linux/amd64 binaries into a new temporary directory under outDir (one
// binary per package, named after its directory) and returns that directory.
func goBuild(ctx context.Context, root, outDir string, pkgs []string) (string, error) {
	binDir, err := os.MkdirTemp(outDir, ".bin-")
	if err != nil {
		return "", err
	}
	args := append([]string{"build", "-trimpath", "-o", binDir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(binDir)
		return "", fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out)
	}
	return binDir, nil
}

// packageKind reports whether dir holds a main package and whether it holds
// any non-test Go file at all.
func packageKind(dir string) (isMain, hasGo bool, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return false, false, err
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		hasGo = true
		parsed, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly)
		if err != nil {
			return false, false, fmt.Errorf("read package clause: %w", err)
		}
		if parsed.Name.Name == "main" {
			return true, true, nil
		}
	}
	return false, hasGo, nil
}

// upToDate reports whether archive exists and is newer than every file in
// inputs: plain files as they are, directories by the .go files under them.
// Missing inputs are ignored.
func upToDate(archive string, inputs []string) (bool, error) {
	st, err := os.Stat(archive)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	built := st.ModTime()
	newest, err := newestModTime(inputs)
	if err != nil {
		return false, err
	}
	return built.After(newest), nil
}

func newestModTime(inputs []string) (time.Time, error) {
	var newest time.Time
	for _, in := range inputs {
		err := filepath.WalkDir(in, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != in && d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if path != in && !strings.HasSuffix(path, ".go") {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.ModTime().After(newest) {
				newest = info.ModTime()
			}
			return nil
		})
		if err != nil {
			return time.Time{}, fmt.Errorf("check sources: %w", err)
		}
	}
	return newest, nil
}

// lockDir creates dir and takes an exclusive lock on dir/.lock, so that
// test binaries building into the same directory take turns. The returned
// function releases the lock.
func lockDir(ctx context.Context, dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

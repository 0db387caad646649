package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"baton.dev/baton/internal/imagebuild"
)

// Images returns a directory holding every sample function image
// (baton.local/fn-NAME:v1) and every test function image
// (baton.local/testfn-MODE:v1) as archives. They are built into
// <module root>/build/images, shared by all test packages and rebuilt only
// when their sources change.
func Images(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("images: %v", err)
	}
	out := filepath.Join(root, "build", "images")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := imagebuild.BuildFunctions(ctx, root, out); err != nil {
		t.Fatalf("images: build the sample function images into %s: %v", out, err)
	}
	if _, err := imagebuild.BuildTestFunctions(ctx, root, out); err != nil {
		t.Fatalf("images: build the test function images into %s: %v", out, err)
	}
	return out
}

// ModuleRoot walks up from the working directory to the directory holding
// go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("find module root: no go.mod in %s or above", dir)
		}
		d = parent
	}
}

package localfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveIfExists(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RemoveIfExists(f); err != nil {
		t.Fatalf("remove an existing file: %v", err)
	}
	if _, err := os.Stat(f); !os.IsNotExist(err) {
		t.Fatalf("file still there: %v", err)
	}
	if err := RemoveIfExists(f); err != nil {
		t.Fatalf("remove a missing file: %v", err)
	}
	sub := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(sub, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := RemoveIfExists(sub); err == nil {
		t.Fatalf("removing a non-empty directory succeeded; want its error")
	}
}

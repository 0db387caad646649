// Package localfs holds the file operations that Baton's processes share
// where the standard library has none.
package localfs

import (
	"errors"
	"io/fs"
	"os"
)

// RemoveIfExists removes path; a path that does not exist is not an
// error (the removal is idempotent, as cleanup after a crash needs).
func RemoveIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file beside it
// and a rename, so a reader (or a restart after a crash) sees the old file
// or the new one, never half of one.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

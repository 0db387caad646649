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

package testenv

import (
	"testing"

	"baton.dev/baton/internal/rundir"
)

// RunDir returns a new run directory (rundir.New: short, under the
// temporary directory, swept by a later run if this one is killed) for
// what a test starts outside its own process; it is removed when the test
// ends.
func RunDir(t testing.TB, prefix string) string {
	t.Helper()
	d, err := rundir.New(prefix, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Remove(); err != nil {
			t.Log(err)
		}
	})
	return d.Path
}

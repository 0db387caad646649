// Package rundir makes the directories that tests and benchmarks run
// things from (a containerd daemon, workers, sandboxes and their network
// namespaces, Postgres), and sweeps those that a killed run left behind.
package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"baton.dev/baton/internal/procsweep"
)

// ownerFile marks a run directory; its owner holds an exclusive flock on
// it for as long as the owning process lives. The kernel drops the lock
// when that process dies, however it dies, so a directory whose lock can
// be taken belongs to a run that is gone.
const ownerFile = ".baton-test-owner"

// Dir is a run directory: a new directory directly under the temporary
// directory, with a short path (unix socket paths must stay under 108
// bytes), owned by this process until Remove.
//
// A killed run ends without its cleanups and leaves everything it
// started running: sandboxes keep their IPs on fixed subnets, and the
// next run's sandboxes, given the same IPs by a fresh IPAM, answer for the
// wrong function or never become healthy. So New first sweeps the run
// directories whose owner is gone (see Sweep).
type Dir struct {
	// Path is the directory.
	Path string
	lock *os.File
}

// New sweeps the run directories of dead runs (logging what it swept
// through logf) and makes a new one, its name starting with prefix.
func New(prefix string, logf func(format string, args ...any)) (*Dir, error) {
	if err := Sweep(logf); err != nil {
		logf("sweep the leftovers of killed runs: %v", err)
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	lock, err := own(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("run directory: %w", err)
	}
	return &Dir{Path: dir, lock: lock}, nil
}

// Remove removes the directory, once what ran from it has stopped.
func (d *Dir) Remove() error {
	err := os.RemoveAll(d.Path)
	d.lock.Close()
	if err != nil {
		return fmt.Errorf("remove run directory: %w", err)
	}
	return nil
}

// own marks dir as this process's: it locks a new file and only then
// gives it the owner file's name, so that a sweep never sees an owner
// file that is not locked yet.
func own(dir string) (*os.File, error) {
	tmp := filepath.Join(dir, ownerFile+".new")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mark %s as this run's: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("mark %s as this run's: lock: %w", dir, err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	if err := os.Rename(tmp, filepath.Join(dir, ownerFile)); err != nil {
		f.Close()
		return nil, fmt.Errorf("mark %s as this run's: %w", dir, err)
	}
	return f, nil
}

// Sweep removes the run directories (see Dir) whose owning process is
// gone, with everything that still runs from them: it kills the processes
// whose command line or executable lies in one, or which live in a
// network namespace mounted in one, and their
// descendants (containerd, its shims and their sandboxes, workers,
// Postgres); then it unmounts what is mounted there, which frees the
// namespaces and their veths, and removes the directory. Directories of
// live runs, other tests' included, are left alone. logf reports what was
// swept.
func Sweep(logf func(format string, args ...any)) error {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(os.TempDir(), e.Name())
		f, err := os.OpenFile(filepath.Join(dir, ownerFile), os.O_RDWR, 0)
		if err != nil {
			continue // not a run directory, or removed meanwhile
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close() // its owner lives (or another sweep has it)
			continue
		}
		res, err := procsweep.Sweep(dir)
		if err == nil {
			err = os.RemoveAll(dir)
		}
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: %w", dir, err))
			continue
		}
		logf("swept %s, left by a killed run: %d processes killed, %d mounts removed", dir, res.Killed, res.Unmounted)
	}
	return errors.Join(errs...)
}

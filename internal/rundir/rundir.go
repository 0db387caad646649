// Package rundir makes the directories that tests and benchmarks run
// things from (a containerd daemon, workers, sandboxes and their network
// namespaces, Postgres), and sweeps those that a killed run left behind.
package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
		killed, unmounted, err := sweepDir(dir)
		f.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		logf("swept %s, left by a killed run: %d processes killed, %d mounts removed", dir, killed, unmounted)
	}
	return errors.Join(errs...)
}

// sweepDir kills what runs from dir, unmounts what is mounted under it
// and removes it.
func sweepDir(dir string) (killed, unmounted int, err error) {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return 0, 0, err
	}
	netns := map[string]bool{}
	for _, m := range mounts {
		if m.fstype == "nsfs" {
			var st syscall.Stat_t
			if syscall.Stat(m.point, &st) == nil {
				netns[fmt.Sprintf("net:[%d]", st.Ino)] = true
			}
		}
	}
	procs, err := processes()
	if err != nil {
		return 0, 0, err
	}
	doomed := map[int]bool{}
	for _, p := range procs {
		if p.pid != os.Getpid() && (p.uses(dir) || netns[p.netns]) {
			doomed[p.pid] = true
		}
	}
	for grew := true; grew; { // and their descendants
		grew = false
		for _, p := range procs {
			if doomed[p.ppid] && !doomed[p.pid] && p.pid != os.Getpid() {
				doomed[p.pid], grew = true, true
			}
		}
	}
	for pid := range doomed {
		if unix.Kill(pid, unix.SIGKILL) == nil {
			killed++
		}
	}
	waitGone(doomed, 10*time.Second)
	// Deepest first: a mount inside another must go before it.
	slices.SortFunc(mounts, func(a, b mount) int { return len(b.point) - len(a.point) })
	for _, m := range mounts {
		if unix.Unmount(m.point, unix.MNT_DETACH) == nil {
			unmounted++
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return killed, unmounted, fmt.Errorf("sweep %s: %w", dir, err)
	}
	return killed, unmounted, nil
}

// waitGone waits until none of pids runs (or is left unreaped by a live
// parent, which a killed run's processes are not: init reaps them).
func waitGone(pids map[int]bool, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		alive := false
		for pid := range pids {
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !zombie(st) {
				alive = true
				break
			}
		}
		if !alive {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombie reports whether a /proc/PID/stat line is a zombie's.
func zombie(stat []byte) bool {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// mount is one line of /proc/self/mountinfo.
type mount struct{ point, fstype string }

// mountsUnder lists the mounts at or under dir.
func mountsUnder(dir string) ([]mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var out []mount
	for _, line := range strings.Split(string(data), "\n") {
		// id parent major:minor root point options [optional...] - fstype source super
		fields := strings.Fields(line)
		sep := slices.Index(fields, "-")
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) {
			continue
		}
		point := unescapeMount(fields[4])
		if within(point, dir) {
			out = append(out, mount{point: point, fstype: fields[sep+1]})
		}
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// process is what Sweep reads of a running process.
type process struct {
	pid, ppid int
	args      []string
	exe       string
	netns     string // "net:[inode]"
}

// uses reports whether p runs from dir: its executable or one of its
// arguments lies in it. (Not its working directory: a shell left in a
// stale directory is not the run's.)
func (p process) uses(dir string) bool {
	if within(p.exe, dir) {
		return true
	}
	for _, a := range p.args {
		if strings.Contains(a, dir+"/") || a == dir || strings.HasSuffix(a, "="+dir) {
			return true
		}
	}
	return false
}

// processes reads every process of /proc (those that vanish meanwhile are
// skipped).
func processes() ([]process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		base := "/proc/" + e.Name()
		stat, err := os.ReadFile(base + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[i+1:]) // state ppid ...
		if i < 0 || len(fields) < 2 {
			continue
		}
		p := process{pid: pid}
		p.ppid, _ = strconv.Atoi(fields[1])
		if cmdline, err := os.ReadFile(base + "/cmdline"); err == nil {
			p.args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		}
		p.exe, _ = os.Readlink(base + "/exe")
		p.netns, _ = os.Readlink(base + "/ns/net")
		out = append(out, p)
	}
	return out, nil
}

// Package procsweep ends what runs from a set of directories: the
// processes whose executable or arguments lie in one, or which live in a
// network namespace mounted in one, with their descendants; then it
// unmounts what is mounted there (which frees the namespaces and their
// veths). Test runs (internal/rundir) and workers starting up
// (worker/machine) use it on what dead predecessors left running.
package procsweep

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Result counts what a sweep did.
type Result struct {
	Killed, Unmounted int
}

// Sweep kills (SIGKILL) the processes that run from any of dirs (see
// Find); waits for them to end; and unmounts everything mounted at or
// under dirs, deepest first.
func Sweep(dirs ...string) (res Result, err error) {
	doomed, mounts, err := find(dirs)
	if err != nil {
		return res, err
	}
	// containerd's shims listen on sockets in a directory of containerd's
	// own (/run/containerd/s), which a killed shim leaves behind: note
	// them before the kill, remove them after.
	sockets := shimSockets(doomed)
	for pid := range doomed {
		if unix.Kill(pid, unix.SIGKILL) == nil {
			res.Killed++
		}
	}
	waitGone(doomed, 10*time.Second)
	for _, s := range sockets {
		_ = os.Remove(s)
	}
	// Deepest first: a mount inside another must go before it.
	slices.SortFunc(mounts, func(a, b mount) int { return len(b.point) - len(a.point) })
	for _, m := range mounts {
		if unix.Unmount(m.point, unix.MNT_DETACH) == nil {
			res.Unmounted++
		}
	}
	return res, nil
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

// Find returns the processes that run from any of dirs — their
// executable or an argument lies in one, or their network namespace is
// mounted in one — and their descendants, this process excepted.
func Find(dirs ...string) ([]int, error) {
	doomed, _, err := find(dirs)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(doomed))
	for pid := range doomed {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out, nil
}

func find(dirs []string) (map[int]bool, []mount, error) {
	var mounts []mount
	for _, dir := range dirs {
		m, err := mountsUnder(dir)
		if err != nil {
			return nil, nil, err
		}
		mounts = append(mounts, m...)
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
		return nil, nil, err
	}
	doomed := map[int]bool{}
	for _, p := range procs {
		if p.pid == os.Getpid() {
			continue
		}
		if netns[p.netns] || slices.ContainsFunc(dirs, p.uses) {
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
	return doomed, mounts, nil
}

// Mounted reports whether anything is mounted at or under path.
func Mounted(path string) (bool, error) {
	ms, err := mountsUnder(path)
	return len(ms) > 0, err
}

// Running reports whether process pid runs (a zombie does not).
func Running(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !zombie(st)
}

// shimSocketDir is where containerd's runc shims put their sockets (not
// configurable in containerd 1.7).
const shimSocketDir = "/run/containerd/s/"

// shimSockets lists the sockets under shimSocketDir that pids listen on,
// matched through their file descriptors' inodes in /proc/net/unix.
func shimSockets(pids map[int]bool) []string {
	table, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil
	}
	byInode := map[string]string{}
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 8 && strings.HasPrefix(f[7], shimSocketDir) {
			byInode[f[6]] = f[7]
		}
	}
	if len(byInode) == 0 {
		return nil
	}
	var out []string
	for pid := range pids {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err != nil {
				continue
			}
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				if path, ok := byInode[strings.TrimSuffix(inode, "]")]; ok && !slices.Contains(out, path) {
					out = append(out, path)
				}
			}
		}
	}
	return out
}

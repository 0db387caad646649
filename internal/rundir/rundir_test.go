package rundir

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"baton.dev/baton/internal/procsweep"
)

// TestSweepHelper is not a test: TestSweep runs it in a child process as
// a test run that will be killed. It marks the directory it is given as
// its own, starts two processes from it (one running a program copied
// into it, as the process runtime does, one in a network namespace
// mounted in it), prints their PIDs and waits.
func TestSweepHelper(t *testing.T) {
	dir := os.Getenv("BATON_SWEEP_HELPER_DIR")
	if dir == "" {
		t.Skip("run by TestSweep")
	}
	if _, err := own(dir); err != nil {
		t.Fatal(err)
	}
	sleep, err := os.ReadFile("/usr/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sleep"), sleep, 0o755); err != nil {
		t.Fatal(err)
	}
	inDir := exec.Command(filepath.Join(dir, "sleep"), "300")
	inDir.Dir = "/"
	ns := filepath.Join(dir, "netns")
	if err := os.WriteFile(ns, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	inNetns := exec.Command("unshare", "--net="+ns, "sleep", "301")
	inNetns.Dir = "/"
	for _, c := range []*exec.Cmd{inDir, inNetns} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for !mounted(t, ns) {
		time.Sleep(10 * time.Millisecond)
	}
	os.Stdout.WriteString("pids " + strconv.Itoa(inDir.Process.Pid) + " " + strconv.Itoa(inNetns.Process.Pid) + "\n")
	select {} // until killed
}

// TestSweep kills a test run (a child process) that left processes and a
// network namespace mount in its run directory, and checks that Sweep
// removes them all and leaves a live run's directory alone.
func TestSweep(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a network namespace needs root")
	}
	stale, err := os.MkdirTemp("", "baton-sweep-stale-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stale) })
	helper := exec.Command(os.Args[0], "-test.run=^TestSweepHelper$", "-test.v")
	helper.Env = append(os.Environ(), "BATON_SWEEP_HELPER_DIR="+stale)
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "pids "); ok {
			for _, f := range strings.Fields(rest) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
			break
		}
	}
	if len(pids) != 2 {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("the helper run printed no PIDs (%v)", sc.Err())
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	// The run is killed: its cleanups never run.
	helper.Process.Kill()
	helper.Wait()

	d, err := New("baton-sweep-live-", t.Logf) // sweeps once already
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove() })
	live := d.Path
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed run's directory is still there (%v)", err)
	}
	if mounted(t, filepath.Join(stale, "netns")) {
		t.Error("the killed run's network namespace is still mounted")
	}
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("process %d of the killed run still runs", pid)
		}
	}

	// A live run's directory and processes (here one naming the directory
	// in its arguments) are left alone.
	sleeper := exec.Command("sh", "-c", "sleep 300; true", filepath.Join(live, "x"))
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	if err := Sweep(t.Logf); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live run's directory was swept: %v", err)
	}
	if !running(sleeper.Process.Pid) {
		t.Error("a live run's process was killed")
	}
}

// mounted reports whether path is a mount point, from mountinfo.
func mounted(t *testing.T, path string) bool {
	t.Helper()
	ok, err := procsweep.Mounted(path)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// running reports whether pid runs (a zombie does not).
func running(pid int) bool {
	return procsweep.Running(pid)
}

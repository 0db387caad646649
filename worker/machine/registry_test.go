package machine

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"baton.dev/baton/internal/procsweep"
)

func incarnation(worker, dataDir, bridge string) Incarnation {
	return Incarnation{ID: NewID(), WorkerID: worker, PID: os.Getpid(), Runtime: "containerd", DataDir: dataDir,
		Bridge: bridge, Subnet: "10.165.0.0/16", Started: time.Now()}
}

// TestLiveAndDead: a claimed record is live to every other session and
// conflicts with a worker on its data directory or bridge; once its owner
// lets go without removing it (a crash), it is dead.
func TestLiveAndDead(t *testing.T) {
	reg, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := incarnation("a", "/data/a", "baton-aaaa")
	s, err := reg.Begin()
	if err != nil {
		t.Fatal(err)
	}
	claim, err := s.Claim(a)
	s.End()
	if err != nil {
		t.Fatal(err)
	}
	s, err = reg.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Live()) != 1 || s.Live()[0].ID != a.ID || len(s.Dead()) != 0 {
		t.Fatalf("live %v, dead %v; want a live", s.Live(), s.Dead())
	}
	tests := []struct {
		name string
		inc  Incarnation
		want string // in the error; "" for none
	}{
		{"same data directory", incarnation("b", "/data/a", "baton-bbbb"), "data directory /data/a is in use by worker a"},
		{"same bridge", incarnation("b", "/data/b", "baton-aaaa"), "bridge baton-aaaa) is in use by worker a"},
		{"same worker ID elsewhere is fine", incarnation("a", "/data/b", "baton-bbbb"), ""},
	}
	for _, tt := range tests {
		err := s.Conflict(tt.inc)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Conflict = %v, want %q", tt.name, err, tt.want)
		}
	}
	s.End()

	claim.Abandon() // as a crash would: the lock goes, the record stays
	s, err = reg.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Live()) != 0 || len(s.Dead()) != 1 || s.Dead()[0].ID != a.ID {
		t.Fatalf("after the owner let go: live %v, dead %v; want a dead", s.Live(), s.Dead())
	}
	if err := s.Forget(a.ID); err != nil {
		t.Fatal(err)
	}
	s.End()
	s, _ = reg.Begin()
	if len(s.Live())+len(s.Dead()) != 0 {
		t.Errorf("a forgotten record is still there: live %v, dead %v", s.Live(), s.Dead())
	}
	s.End()
}

// startFrom copies sleep into dir and runs it from there, as the process
// runtime runs a sandbox.
func startFrom(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	b, err := os.ReadFile("/usr/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sleep")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait() //nolint:errcheck // reaped for Running
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd
}

// TestSweepDead: a dead worker's processes, bridge and veths go; a dead
// predecessor on the new worker's own data directory loses only its
// containerd (its sandboxes are for adoption); live workers lose nothing.
func TestSweepDead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: bridges")
	}
	reg, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	deadDir, selfDir, liveDir := t.TempDir(), t.TempDir(), t.TempDir()
	deadSandbox := startFrom(t, deadDir)
	ownSandbox := startFrom(t, selfDir)
	liveSandbox := startFrom(t, liveDir)
	// The predecessor's containerd: its command line names its
	// configuration under the data directory.
	if err := os.MkdirAll(filepath.Join(selfDir, "containerd"), 0o700); err != nil {
		t.Fatal(err)
	}
	oldContainerd := exec.Command("sh", "-c", "sleep 300", filepath.Join(selfDir, "containerd", "config.toml"))
	if err := oldContainerd.Start(); err != nil {
		t.Fatal(err)
	}
	go oldContainerd.Wait() //nolint:errcheck
	t.Cleanup(func() { _ = oldContainerd.Process.Kill() })
	// The sweep counts sh and its sleep: wait for sh to have started it
	// (a sweep that ran first counted one process, and the test failed).
	children := fmt.Sprintf("/proc/%d/task/%d/children", oldContainerd.Process.Pid, oldContainerd.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(children); err == nil && len(bytes.TrimSpace(b)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the predecessor's sh did not start its sleep within 5s")
		}
	}

	const bridge = "baton-mtest0"
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridge}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(br) })
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "mtest0a", MasterIndex: br.Attrs().Index}, PeerName: "mtest0b"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(veth) })

	claimAndLetGo := func(inc Incarnation) {
		s, err := reg.Begin()
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Claim(inc)
		s.End()
		if err != nil {
			t.Fatal(err)
		}
		c.Abandon()
	}
	dead := incarnation("dead", deadDir, bridge)
	predecessor := incarnation("self", selfDir, "baton-mtest1")
	claimAndLetGo(dead)
	claimAndLetGo(predecessor)
	s, err := reg.Begin()
	if err != nil {
		t.Fatal(err)
	}
	live, err := s.Claim(incarnation("live", liveDir, "baton-mtest2"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()
	swept, err := s.SweepDead(incarnation("self", selfDir, "baton-mtest1"))
	s.End()
	if err != nil {
		t.Fatal(err)
	}
	if len(swept) != 2 {
		t.Fatalf("swept %+v, want the dead worker and the predecessor", swept)
	}
	for _, sw := range swept {
		switch sw.Incarnation.ID {
		case dead.ID:
			if sw.Adoptable || sw.Processes != 1 || sw.Links != 2 {
				t.Errorf("the dead worker: %+v, want 1 process and 2 links (veth, bridge) removed", sw)
			}
		case predecessor.ID:
			if !sw.Adoptable || sw.Processes != 2 { // sh and its sleep
				t.Errorf("the predecessor: %+v, want adoptable, its containerd (2 processes) killed", sw)
			}
		}
	}
	waitGone := func(cmd *exec.Cmd) bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if !procsweep.Running(cmd.Process.Pid) {
				return true
			}
		}
		return false
	}
	if !waitGone(deadSandbox) {
		t.Error("the dead worker's sandbox process survived")
	}
	if !waitGone(oldContainerd) {
		t.Error("the predecessor's containerd survived")
	}
	if !procsweep.Running(ownSandbox.Process.Pid) {
		t.Error("the predecessor's sandbox was killed: it was the new worker's to adopt")
	}
	if !procsweep.Running(liveSandbox.Process.Pid) {
		t.Error("a live worker's sandbox was killed")
	}
	for _, name := range []string{bridge, "mtest0a"} {
		if _, err := netlink.LinkByName(name); err == nil {
			t.Errorf("%s survived the sweep", name)
		}
	}
}

// TestCheckSubnet: a route on another interface as specific as the
// subnet or more is refused, naming the interface; the worker's own
// bridge and less specific routes are not.
func TestCheckSubnet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: links and routes")
	}
	dummy := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "mchk0"}}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	defer netlink.LinkDel(dummy) //nolint:errcheck
	if err := netlink.LinkSetUp(dummy); err != nil {
		t.Fatal(err)
	}
	_, dst, _ := net.ParseCIDR("10.166.0.0/17")
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: dummy.Attrs().Index, Dst: dst}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		subnet, bridge, want string
	}{
		{"10.166.0.0/16", "baton0", "overlaps the route to 10.166.0.0/17 on interface mchk0"},
		{"10.166.0.0/17", "baton0", "on interface mchk0"},
		{"10.166.0.0/16", "mchk0", ""},  // its own
		{"10.166.0.0/24", "baton0", ""}, // more specific: the bridge's route wins
		{"10.167.0.0/16", "baton0", ""},
		{"not-a-subnet", "baton0", "not-a-subnet"},
	}
	for _, tt := range tests {
		err := CheckSubnet(tt.subnet, tt.bridge)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckSubnet(%s, %s) = %v, want %q", tt.subnet, tt.bridge, err, tt.want)
		}
	}
}

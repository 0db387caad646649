package containerd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/machine"
	"baton.dev/baton/worker/sandboxtest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	attackSubnet           = "10.179.12.0/24"
	attackSubnetUnhardened = "10.179.13.0/24"
)

// TestAHostileFunctionIsContained runs the attack suite's sandbox-level
// attacks from inside a sandbox (the test function's POST /attack) and
// checks each is stopped, while another sandbox on the same bridge keeps
// serving and a service the host binds to 0.0.0.0 never sees a connection.
//
// A function's lingering child (its own session, never waited for) stays
// in the sandbox's cgroup and does not outlive the sandbox's deletion.
//
// The same attacks against an unhardened runtime (Config.Unhardened) show
// the suite can fail: there, the ones the hardening stops succeed.
func TestAHostileFunctionIsContained(t *testing.T) {
	t.Parallel()
	for _, hardened := range []bool{true, false} {
		name := "hardened"
		subnet := attackSubnet
		if !hardened {
			name, subnet = "unhardened", attackSubnetUnhardened
		}
		t.Run(name, func(t *testing.T) { attackSuite(t, subnet, hardened) })
	}
}

// attackSuite runs the attacks on a runtime of its own on subnet.
func attackSuite(t *testing.T, attackSubnet string, hardened bool) {
	ctx := context.Background()
	cfg := testConfig(t, attackSubnet)
	cfg.Unhardened = !hardened
	rt := openWith(t, cfg)
	if hardened && !machine.Guarded(containerd.BridgeFor(attackSubnet)) {
		t.Fatalf("the bridge's firewall is not installed")
	}
	spec := func(name string) worker.SandboxSpec {
		return worker.SandboxSpec{ID: sandboxtest.NewID(name), Function: "t/w/" + name, Image: sandboxtest.ImageOK, CPUMilli: 500, MemoryBytes: 128 << 20}
	}
	hostile := sandboxtest.Create(t, rt, spec("hostile"))
	victim := sandboxtest.Create(t, rt, spec("victim"))

	// A host service bound to every address, as the API, NATS or
	// Postgres might be.
	var reached atomic.Int64
	ln := hostService(t, "0.0.0.0:0", &reached)
	// The same over IPv6, at the bridge's link-local address, if the
	// bridge has one (the host's IPv6 is on).
	ln6 := hostService(t, "[::]:0", &reached)
	host6 := "[" + linkLocalOf(t, containerd.BridgeFor(attackSubnet)) + "%*]:" + fmt.Sprint(ln6.Addr().(*net.TCPAddr).Port)
	_, subnet, _ := net.ParseCIDR(attackSubnet)
	gateway := net.IP(append([]byte(nil), subnet.IP.To4()...))
	gateway[3]++
	hostPort := ln.Addr().(*net.TCPAddr).Port
	victimHost := hostOf(t, victim.Endpoint)

	attacks := []struct {
		label, kind, target string
		// unhardened is what the attack must do without the hardening;
		// with it, every one must be stopped.
		unhardened expect
		// errno, when set, is the error the hardening must stop it with.
		errno string
	}{
		{"another sandbox", "connect", victimHost, mustSucceed, ""},
		{"a host service on 0.0.0.0", "connect", fmt.Sprintf("%s:%d", gateway, hostPort), mustSucceed, ""},
		{"a host service on [::], over IPv6 link-local", "connect", host6, mustSucceed, ""},
		{"raw socket", "raw-socket", "", mustSucceed, ""},
		{"mount", "mount", "", notAsserted, ""},
		// runc's default capabilities lack CAP_SYS_ADMIN: stopped
		// without the hardening too.
		{"unshare a mount namespace", "unshare", "", mustStop, "operation not permitted"},
		// A process traces its own child without any capability;
		// containerd's seccomp profile allows ptrace (kernel ≥ 4.8),
		// the hardening's withoutPtrace does not.
		{"ptrace its child", "ptrace", "", mustSucceed, "operation not permitted"},
		{"kernel module", "load-module", "", notAsserted, ""},
		{"write /proc/sys", "write-proc-sys", "", notAsserted, ""},
		{"write the root filesystem", "write-rootfs", "", mustSucceed, ""},
		{"run as root", "root", "", mustSucceed, ""},
		{"host files through /proc", "read-host", "", notAsserted, ""},
		{"fill /tmp", "fill-tmp", "", notAsserted, ""},
	}
	hc := &http.Client{Timeout: time.Minute}
	for _, a := range attacks {
		if !hardened && harmful[a.kind] {
			continue
		}
		t.Run(a.label, func(t *testing.T) {
			out := attack(t, hc, hostile.Endpoint, a.kind, a.target)
			t.Logf("%s %s: stopped=%v (%s)", a.kind, a.target, out.Stopped, out.Detail)
			switch {
			case hardened && !out.Stopped:
				t.Errorf("NOT STOPPED: %s", out.Detail)
			case hardened && !strings.Contains(out.Detail, a.errno):
				t.Errorf("stopped with %q, want %q", out.Detail, a.errno)
			case !hardened && out.Stopped && a.unhardened == mustSucceed:
				t.Errorf("stopped without the hardening too (%s): the attack proves nothing", out.Detail)
			case !hardened && !out.Stopped && a.unhardened == mustStop:
				t.Errorf("not stopped without the hardening (%s): runc's defaults were thought to stop it", out.Detail)
			}
		})
	}
	if hardened {
		t.Run("fork bomb", func(t *testing.T) { forkBomb(t, rt, hc, spec("bomb")) })
	}
	// Whatever the hardening, nothing of a sandbox outlives its deletion.
	t.Run("lingering process", func(t *testing.T) {
		lingerAttack(t, rt, hc, spec("linger"))
	})
	if n := reached.Load(); hardened && n > 0 {
		t.Errorf("the host service saw %d connections from the sandbox", n)
	}
	for _, sb := range []worker.Sandbox{victim, hostile} {
		if err := sandboxtest.Health(ctx, sb.Endpoint); err != nil {
			t.Errorf("%s after the attacks: %v", sb.ID, err)
		}
	}
	resp, err := hc.Post(victim.Endpoint+"/", "application/json", strings.NewReader(`{"still":"serving"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("the other sandbox does not serve after the attacks: %v", err)
	} else {
		resp.Body.Close()
	}
}

// expect is what an attack must do.
type expect int

const (
	// notAsserted: only logged (runc's defaults stop mount, modules,
	// /proc/sys and the host's files without the hardening too, but
	// that is not the hardening's doing).
	notAsserted expect = iota
	// mustStop: runc's defaults stop it without the hardening too.
	mustStop
	// mustSucceed: only the hardening stops it.
	mustSucceed
)

// outcome is the hostile function's answer to POST /attack.
type outcome struct {
	Stopped bool   `json:"stopped"`
	Detail  string `json:"detail"`
}

// attack asks the hostile function at endpoint to try kind on target.
func attack(t *testing.T, hc *http.Client, endpoint, kind, target string) outcome {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"kind": kind, "target": target})
	resp, err := hc.Post(endpoint+"/attack", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the hostile function did not answer: %v", err)
	}
	defer resp.Body.Close()
	var out outcome
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer %d: %v", resp.StatusCode, err)
	}
	return out
}

// forkBomb has a function of its own sandbox start copies of itself until
// the kernel refuses. Stopped means bounded: the function is refused
// within the sandbox's 512 tasks, or, when the bomb leaves its own Go
// runtime no thread to start (or no memory), the bomb takes down its own
// sandbox and nothing else; either way the sandbox's cgroup never holds
// more than its limit and the other sandboxes serve (checked after).
func forkBomb(t *testing.T, rt *containerd.Runtime, hc *http.Client, spec worker.SandboxSpec) {
	spec.MemoryBytes = 512 << 20 // room for the copies: the pids limit, not memory, must end the bomb
	sb := sandboxtest.Create(t, rt, spec)
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids/baton", sb.ID, "pids.max")); err != nil || strings.TrimSpace(string(b)) != "512" {
		t.Fatalf("the sandbox's pids.max is %q (%v), want 512", b, err)
	}
	body, _ := json.Marshal(map[string]string{"kind": "fork-bomb"})
	resp, err := hc.Post(sb.Endpoint+"/attack", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Logf("fork-bomb: stopped=true (the bomb took down its own sandbox: %v)", err)
	} else {
		defer resp.Body.Close()
		var out outcome
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("answer %d: %v", resp.StatusCode, err)
		}
		t.Logf("fork-bomb: stopped=%v (%s)", out.Stopped, out.Detail)
		if !out.Stopped {
			t.Errorf("NOT STOPPED: %s", out.Detail)
		}
	}
}

// lingerAttack has a function start a child in a session of its own that
// never ends, answer, and be deleted: while the sandbox lives the child
// must be in its cgroup, and after the deletion no process of it may be
// left on the host.
func lingerAttack(t *testing.T, rt *containerd.Runtime, hc *http.Client, spec worker.SandboxSpec) {
	sb := sandboxtest.Create(t, rt, spec)
	marker := "baton-linger-" + sb.ID
	out := attack(t, hc, sb.Endpoint, "linger", marker)
	if out.Stopped || strings.Contains(out.Detail, "cannot try") {
		t.Fatalf("the function could not start its child (%s): the attack proves nothing", out.Detail)
	}
	pids := marked(t, marker)
	if len(pids) == 0 {
		t.Fatalf("the child the function started (%s) is not on the host", out.Detail)
	}
	for _, pid := range pids {
		if err := inCgroup(pid, sb.ID); err != nil {
			t.Errorf("NOT CONFINED: the lingering process %d: %v", pid, err)
		}
	}
	if err := rt.Delete(context.Background(), sb.ID); err != nil {
		t.Fatalf("delete the sandbox: %v", err)
	}
	left := marked(t, marker)
	t.Logf("linger: host pids %v while the sandbox lived, %v after its deletion (%s)", pids, left, out.Detail)
	if len(left) > 0 {
		t.Errorf("NOT STOPPED: processes %v of sandbox %s outlived its deletion", left, sb.ID)
	}
}

// marked lists the host's processes whose command line or environment
// holds marker.
func marked(t *testing.T, marker string) []int {
	return hostProcesses(t, func(pid string) bool {
		for _, f := range []string{"cmdline", "environ"} {
			b, err := os.ReadFile(filepath.Join("/proc", pid, f))
			if err == nil && bytes.Contains(b, []byte(marker)) {
				return true
			}
		}
		return false
	})
}

// inCgroup checks that process pid is in sandbox id's cgroup in the
// memory and pids hierarchies (cgroup v1) or the unified one (v2).
func inCgroup(pid int, id string) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	checked := 0
	for _, line := range lines {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls := strings.Split(parts[1], ",")
		if slices.Contains(ctrls, "memory") || slices.Contains(ctrls, "pids") || (parts[1] == "" && len(lines) == 1) {
			checked++
			if !strings.HasSuffix(parts[2], "/baton/"+id) {
				return fmt.Errorf("in cgroup %s (%s), not the sandbox's", parts[2], parts[1])
			}
		}
	}
	if checked == 0 {
		return fmt.Errorf("no memory or pids cgroup in %q", b)
	}
	return nil
}

// harmful attacks are not tried without the hardening: without a bounded
// /tmp it would fill the machine's disk. (The fork bomb, in a sandbox of
// its own, is tried only with the hardening's pids limit.)
var harmful = map[string]bool{"fill-tmp": true}

func hostOf(t *testing.T, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// hostService listens on addr for the test's length, counting in reached
// the connections it accepts.
func hostService(t *testing.T, addr string, reached *atomic.Int64) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	return ln
}

// linkLocalOf returns bridge's IPv6 link-local address once it is usable
// (past duplicate address detection), or fe80::1 when it has none within
// 5 s (IPv6 is off on it: the attack then has nowhere to go, as it must).
func linkLocalOf(t *testing.T, bridge string) string {
	t.Helper()
	link, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatalf("bridge %s: %v", bridge, err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if a.IP.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				return a.IP.String()
			}
		}
	}
	return "fe80::1"
}

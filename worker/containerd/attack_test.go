package containerd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/machine"
	"baton.dev/baton/worker/sandboxtest"
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
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reached atomic.Int64
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
	_, subnet, _ := net.ParseCIDR(attackSubnet)
	gateway := net.IP(append([]byte(nil), subnet.IP.To4()...))
	gateway[3]++
	hostPort := ln.Addr().(*net.TCPAddr).Port
	victimHost := hostOf(t, victim.Endpoint)

	attacks := []struct{ label, kind, target string }{
		{"another sandbox", "connect", victimHost},
		{"a host service on 0.0.0.0", "connect", fmt.Sprintf("%s:%d", gateway, hostPort)},
		{"raw socket", "raw-socket", ""},
		{"mount", "mount", ""},
		{"unshare", "unshare", ""},
		{"kernel module", "load-module", ""},
		{"write /proc/sys", "write-proc-sys", ""},
		{"write the root filesystem", "write-rootfs", ""},
		{"run as root", "root", ""},
		{"host files through /proc", "read-host", ""},
		{"fork bomb", "fork-bomb", ""},
		{"fill /tmp", "fill-tmp", ""},
	}
	hc := &http.Client{Timeout: time.Minute}
	for _, a := range attacks {
		if !hardened && harmful[a.kind] {
			continue
		}
		t.Run(a.label, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"kind": a.kind, "target": a.target})
			resp, err := hc.Post(hostile.Endpoint+"/attack", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("the hostile function did not answer: %v", err)
			}
			defer resp.Body.Close()
			var out struct {
				Stopped bool   `json:"stopped"`
				Detail  string `json:"detail"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
				t.Fatalf("answer %d: %v", resp.StatusCode, err)
			}
			t.Logf("%s %s: stopped=%v (%s)", a.kind, a.target, out.Stopped, out.Detail)
			switch {
			case hardened && !out.Stopped:
				t.Errorf("NOT STOPPED: %s", out.Detail)
			case !hardened && out.Stopped && mustSucceedUnhardened[a.label]:
				t.Errorf("stopped without the hardening too (%s): the attack proves nothing", out.Detail)
			}
		})
	}
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

// mustSucceedUnhardened are the attacks that only the hardening stops (a
// runc container's defaults stop the others too: mount, unshare, modules,
// /proc/sys, the host's files).
var mustSucceedUnhardened = map[string]bool{"another sandbox": true, "a host service on 0.0.0.0": true, "raw socket": true, "write the root filesystem": true, "run as root": true}

// harmful attacks are not tried without the hardening: without a pids
// limit and a bounded /tmp they would take the machine's processes and
// disk.
var harmful = map[string]bool{"fork-bomb": true, "fill-tmp": true}

func hostOf(t *testing.T, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

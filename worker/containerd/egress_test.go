package containerd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/machine"
	"baton.dev/baton/worker/sandboxtest"
)

const (
	// egressSubnet is the sandboxes' subnet of TestEgressAndPrivileges.
	egressSubnet = "10.179.17.0/24"
	// outsideLink is the link between the host and the simulated
	// outside: the host is .2 on it, the outside .1.
	outsideLink = "10.179.18.0/24"
)

// The simulated outside: a network namespace on a veth from the host,
// holding a private address on the link and a "public" one
// (198.51.100.1, TEST-NET-2, which no rule blocks) that the host routes
// to. The host holds a public-range address of its own on the link
// (198.51.100.2): a sandbox with egress must not reach the host there
// either.
var (
	outsidePrivate = net.IPv4(10, 179, 18, 1)
	hostOnLink     = net.IPv4(10, 179, 18, 2)
	outsidePublic  = net.IPv4(198, 51, 100, 1)
	hostPublic     = net.IPv4(198, 51, 100, 2)
)

// TestEgressAndPrivileges checks what a sandbox's privileges give it, on a
// real containerd with the bridge's firewall:
//
//   - egress internet: a default route, connections to a public address
//     (NATed to the host's address), and none to a private address, the
//     host (its bridge address or a public address of its), another
//     sandbox or the metadata service; its rules exist while it runs,
//     come back after a worker restart, and are gone after its deletion;
//   - egress none: no default route, and the public address is out of
//     reach;
//   - capabilities and root: exactly the capabilities granted, in the
//     effective set (CapEff), usable (a port below 1024), uid 0 only
//     with RunAsRoot; none and uid 65534 without.
func TestEgressAndPrivileges(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, a bridge and iptables")
	}
	ctx := context.Background()
	bridge := containerd.BridgeFor(egressSubnet)
	t.Cleanup(func() { assertNoEgressLeft(t, bridge) }) // runs last
	out := startOutside(t)

	// A host service on every address, as the API or NATS might be.
	hostLn, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	hostSeen := acceptAll(hostLn)
	hostPort := hostLn.Addr().(*net.TCPAddr).Port

	spec := func(name string, p worker.Privileges) worker.SandboxSpec {
		return worker.SandboxSpec{ID: sandboxtest.NewID(name), Function: "t/w/" + name, Image: sandboxtest.ImageOK,
			CPUMilli: 250, MemoryBytes: 64 << 20, Privileges: p}
	}

	// The sandbox with egress is made by a first worker, which stops;
	// the second finds it running and gives it its rules again.
	cfg := testConfig(t, egressSubnet)
	first, err := containerd.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	openSpec := spec("egress", worker.Privileges{Egress: worker.EgressInternet})
	open, err := first.Create(ctx, openSpec)
	closeErr := first.Close()
	rt := openWith(t, cfg) // its cleanup sweeps the sandbox whatever happens
	if err != nil {
		t.Fatalf("create a sandbox with egress: %v", err)
	}
	if closeErr != nil {
		t.Fatal(closeErr)
	}
	openIP := net.ParseIP(hostOfEndpoint(t, open.Endpoint))
	if !machine.EgressAllowed(bridge, openIP) {
		t.Fatalf("the egress rules of %s (%s) are not there after a worker restart", open.ID, openIP)
	}
	shut := sandboxtest.Create(t, rt, spec("shut", worker.Privileges{}))
	hc := &http.Client{Timeout: time.Minute}

	t.Run("the rules of a sandbox with egress", func(t *testing.T) {
		filter := iptablesS(t, "filter")
		nat := iptablesS(t, "nat")
		for _, want := range []string{
			fmt.Sprintf("-A BATON-%s -s %s/32 -j BATON-%s-EGRESS", bridge, openIP, bridge),
			fmt.Sprintf("-A BATON-%s-EGRESS -m addrtype --dst-type LOCAL,BROADCAST -j DROP", bridge),
			fmt.Sprintf("-A BATON-%s-EGRESS -o %s -j DROP", bridge, bridge),
			fmt.Sprintf("-A BATON-%s-EGRESS -d 169.254.0.0/16 -j DROP", bridge),
			fmt.Sprintf("-A BATON-%s-EGRESS -d 10.0.0.0/8 -j DROP", bridge),
			fmt.Sprintf("-A BATON-%s-EGRESS -j ACCEPT", bridge),
			fmt.Sprintf("-A BATON-%s -j DROP", bridge),
		} {
			if !strings.Contains(filter, want+"\n") {
				t.Errorf("iptables -S lacks %q", want)
			}
		}
		for _, r := range machine.PrivateRanges() {
			if want := fmt.Sprintf("-A BATON-%s-EGRESS -d %s -j DROP", bridge, r); !strings.Contains(filter, want+"\n") {
				t.Errorf("iptables -S lacks %q", want)
			}
		}
		for _, want := range []string{
			fmt.Sprintf("-A POSTROUTING -j BATON-%s", bridge),
			fmt.Sprintf("-A BATON-%s -s %s/32 ! -o %s -j MASQUERADE", bridge, openIP, bridge),
		} {
			if !strings.Contains(nat, want+"\n") {
				t.Errorf("iptables -t nat -S lacks %q", want)
			}
		}
		// The egress jump comes before the chain's DROP, and INPUT
		// from the bridge still goes to the bridge's chain alone.
		if j, d := strings.Index(filter, "-s "+openIP.String()+"/32 -j BATON-"), strings.Index(filter, fmt.Sprintf("-A BATON-%s -j DROP", bridge)); j < 0 || d < j {
			t.Errorf("the egress jump is not before the DROP:\n%s", filter)
		}
		if shutIP := hostOfEndpoint(t, shut.Endpoint); strings.Contains(filter+nat, shutIP+"/32") {
			t.Errorf("a rule names the sandbox without egress (%s)", shutIP)
		}
		if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err != nil || strings.TrimSpace(string(b)) != "1" {
			t.Errorf("ip_forward = %q, %v: want 1 (the CNI bridge plugin turns it on)", b, err)
		}
	})

	t.Run("routes", func(t *testing.T) {
		if s := selfOf(t, hc, open.Endpoint); !s.DefaultRoute {
			t.Errorf("the sandbox with egress has no default route: %+v", s)
		}
		if s := selfOf(t, hc, shut.Endpoint); s.DefaultRoute {
			t.Errorf("the sandbox without egress has a default route: %+v", s)
		}
	})

	t.Run("what a sandbox with egress reaches", func(t *testing.T) {
		gateway := gatewayOf(t, egressSubnet)
		tests := []struct {
			label, from, target string
			reach               bool
		}{
			{"a public address", open.Endpoint, fmt.Sprintf("%s:%d", outsidePublic, out.port), true},
			{"a private address", open.Endpoint, fmt.Sprintf("%s:%d", outsidePrivate, out.port), false},
			{"the host at its bridge address", open.Endpoint, fmt.Sprintf("%s:%d", gateway, hostPort), false},
			{"the host at a public address of its", open.Endpoint, fmt.Sprintf("%s:%d", hostPublic, hostPort), false},
			{"the host at its address on the outside link", open.Endpoint, fmt.Sprintf("%s:%d", hostOnLink, hostPort), false},
			{"another sandbox", open.Endpoint, hostOfEndpoint(t, shut.Endpoint) + ":8080", false},
			{"the metadata service", open.Endpoint, "169.254.169.254:80", false},
			{"a public address, without egress", shut.Endpoint, fmt.Sprintf("%s:%d", outsidePublic, out.port), false},
		}
		for _, tt := range tests {
			t.Run(tt.label, func(t *testing.T) {
				res := attack(t, hc, tt.from, "connect", tt.target)
				t.Logf("connect %s: stopped=%v (%s)", tt.target, res.Stopped, res.Detail)
				if res.Stopped == tt.reach {
					t.Errorf("connect to %s: stopped=%v (%s), want reached=%v", tt.target, res.Stopped, res.Detail, tt.reach)
				}
			})
		}
		// One connection reached the outside, from the host's address
		// on the link (NAT), never from the sandbox's own.
		if got := out.seen(); len(got) != 1 || got[0] != hostOnLink.String() {
			t.Errorf("the outside saw connections from %v, want one, from %s (NAT)", got, hostOnLink)
		}
		if got := hostSeen(); len(got) > 0 {
			t.Errorf("the host service saw connections from %v", got)
		}
	})

	t.Run("capabilities and root", func(t *testing.T) {
		const netBindService, netRaw = 1 << 10, 1 << 13
		tests := []struct {
			name       string
			privileges worker.Privileges
			uid        int
			caps       uint64
		}{
			{"none", worker.Privileges{}, 65534, 0},
			{"NET_BIND_SERVICE", worker.Privileges{Capabilities: []string{"NET_BIND_SERVICE"}}, 65534, netBindService},
			{"root alone", worker.Privileges{RunAsRoot: true}, 0, 0},
			{"root with NET_BIND_SERVICE and NET_RAW", worker.Privileges{Capabilities: []string{"NET_BIND_SERVICE", "NET_RAW"}, RunAsRoot: true}, 0, netBindService | netRaw},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sb := sandboxtest.Create(t, rt, spec("caps", tt.privileges))
				defer func() {
					if err := rt.Delete(ctx, sb.ID); err != nil {
						t.Errorf("delete: %v", err)
					}
				}()
				s := selfOf(t, hc, sb.Endpoint)
				want := fmt.Sprintf("%016x", tt.caps)
				if s.UID != tt.uid || s.CapEff != want || s.CapPrm != want || s.CapBnd != want {
					t.Errorf("uid %d, CapEff %s, CapPrm %s, CapBnd %s; want uid %d and %s in each", s.UID, s.CapEff, s.CapPrm, s.CapBnd, tt.uid, want)
				}
				bound := attack(t, hc, sb.Endpoint, "bind-low-port", "")
				if granted := tt.caps&netBindService != 0; bound.Stopped == granted {
					t.Errorf("bind port 80: stopped=%v (%s), with NET_BIND_SERVICE granted=%v", bound.Stopped, bound.Detail, granted)
				}
				raw := attack(t, hc, sb.Endpoint, "raw-socket", "")
				if granted := tt.caps&netRaw != 0; raw.Stopped == granted {
					t.Errorf("raw socket: stopped=%v (%s), with NET_RAW granted=%v", raw.Stopped, raw.Detail, granted)
				}
				// Seccomp keeps ptrace out, whatever was granted.
				if pt := attack(t, hc, sb.Endpoint, "ptrace", ""); !pt.Stopped {
					t.Errorf("ptrace of its child was not stopped: %s", pt.Detail)
				}
			})
		}
		_, err := rt.Create(ctx, spec("bogus", worker.Privileges{Capabilities: []string{"BOGUS"}}))
		if !errors.Is(err, worker.ErrUnsupported) || !strings.Contains(err.Error(), `"BOGUS"`) {
			t.Errorf("an unknown capability: %v, want ErrUnsupported naming it", err)
		}
		_, err = rt.Create(ctx, spec("prefixed", worker.Privileges{Capabilities: []string{"CAP_NET_RAW"}}))
		if err == nil || !strings.Contains(err.Error(), "without CAP_") {
			t.Errorf("a CAP_ name: %v, want refused", err)
		}
	})

	t.Run("deletion removes the rules", func(t *testing.T) {
		if err := rt.Delete(ctx, open.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if machine.EgressAllowed(bridge, openIP) {
			t.Errorf("the egress rules of %s are still there after its deletion", openIP)
		}
		if all := iptablesS(t, "filter") + iptablesS(t, "nat"); strings.Contains(all, openIP.String()+"/32") {
			t.Errorf("a rule still names %s after its deletion:\n%s", openIP, all)
		}
	})
}

// outside is the simulated outside host: a listener on every address of
// its network namespace.
type outside struct {
	port int
	seen func() []string // the remote addresses of the connections it accepted
}

// startOutside makes the outside (see outsidePublic) for the test; its
// cleanup removes the veth (and with it the addresses and routes), and
// the namespace goes with the last reference to it.
func startOutside(t *testing.T) *outside {
	t.Helper()
	const hostEnd, outEnd = "baton-egt-h", "baton-egt-o"
	_ = netlink.LinkDel(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd}}) // a crashed run's
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd}, PeerName: outEnd}); err != nil {
		t.Fatalf("outside: veth: %v", err)
	}
	t.Cleanup(func() {
		if err := netlink.LinkDel(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd}}); err != nil {
			t.Errorf("outside: delete the veth: %v", err)
		}
	})
	// A thread of its own makes the namespace and the listener in it,
	// and ends with its goroutine (still locked, so Go discards it).
	type made struct {
		ns  netns.NsHandle
		ln  net.Listener
		err error
	}
	ch := make(chan made, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			ch <- made{err: err}
			return
		}
		ln, err := net.Listen("tcp", "0.0.0.0:0")
		ch <- made{ns: ns, ln: ln, err: err}
	}()
	m := <-ch
	if m.err != nil {
		t.Fatalf("outside: namespace: %v", m.err)
	}
	t.Cleanup(func() { m.ln.Close(); m.ns.Close() })
	h, err := netlink.NewHandleAt(m.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("outside: %s: %v", what, err)
		}
	}
	peer, err := netlink.LinkByName(outEnd)
	must("peer", err)
	must("move the peer", netlink.LinkSetNsFd(peer, int(m.ns)))
	peer, err = h.LinkByName(outEnd)
	must("peer inside", err)
	must("address", h.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: outsidePrivate, Mask: net.CIDRMask(24, 32)}}))
	must("public address", h.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: outsidePublic, Mask: net.CIDRMask(32, 32)}}))
	must("up", h.LinkSetUp(peer))
	host, err := netlink.LinkByName(hostEnd)
	must("host end", err)
	must("host address", netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: hostOnLink, Mask: net.CIDRMask(24, 32)}}))
	must("host public address", netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: hostPublic, Mask: net.CIDRMask(32, 32)}}))
	must("host end up", netlink.LinkSetUp(host))
	must("route", netlink.RouteAdd(&netlink.Route{Dst: &net.IPNet{IP: outsidePublic, Mask: net.CIDRMask(32, 32)}, Gw: outsidePrivate}))
	return &outside{port: m.ln.Addr().(*net.TCPAddr).Port, seen: acceptAll(m.ln)}
}

// acceptAll accepts and closes every connection to ln and returns what
// tells the remote addresses seen so far.
func acceptAll(ln net.Listener) func() []string {
	var mu sync.Mutex
	var seen []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, c.RemoteAddr().(*net.TCPAddr).IP.String())
			mu.Unlock()
			c.Close()
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// self is the test function's GET /self.
type self struct {
	UID          int    `json:"uid"`
	CapEff       string `json:"capEff"`
	CapPrm       string `json:"capPrm"`
	CapBnd       string `json:"capBnd"`
	CapAmb       string `json:"capAmb"`
	DefaultRoute bool   `json:"defaultRoute"`
	Error        string `json:"error"`
}

func selfOf(t *testing.T, hc *http.Client, endpoint string) self {
	t.Helper()
	resp, err := hc.Get(endpoint + "/self")
	if err != nil {
		t.Fatalf("GET /self: %v", err)
	}
	defer resp.Body.Close()
	var s self
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != 200 || s.Error != "" {
		t.Fatalf("GET /self: %d %+v, %v", resp.StatusCode, s, err)
	}
	return s
}

// iptablesS is `iptables -t table -S`.
func iptablesS(t *testing.T, table string) string {
	t.Helper()
	out, err := exec.Command("iptables", "-w", "5", "-t", table, "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -t %s -S: %v: %s", table, err, out)
	}
	return string(out)
}

// assertNoEgressLeft checks that no rule or chain names bridge.
func assertNoEgressLeft(t *testing.T, bridge string) {
	for _, table := range []string{"filter", "nat"} {
		for _, line := range strings.Split(iptablesS(t, table), "\n") {
			if strings.Contains(line, bridge) {
				t.Errorf("left behind in iptables -t %s: %s", table, line)
			}
		}
	}
}

// gatewayOf is the bridge's address on subnet: its first address.
func gatewayOf(t *testing.T, subnet string) net.IP {
	_, n, err := net.ParseCIDR(subnet)
	if err != nil {
		t.Fatal(err)
	}
	gw := append(net.IP(nil), n.IP.To4()...)
	gw[3]++
	return gw
}

func hostOfEndpoint(t *testing.T, endpoint string) string {
	h, _, err := net.SplitHostPort(hostOf(t, endpoint))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"baton.dev/baton/worker"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Impostor is a foreign HTTP server on a sandbox bridge: a network
// namespace of its own, attached to the bridge by a veth, holding an
// address that is (or will be) a sandbox's and serving the sandbox
// contract there on the sandbox port. It answers every POST with
// "impostor:" and the body, and counts them: a request that reaches it
// carried a tenant's input to the wrong code.
type Impostor struct {
	IP    net.IP
	MAC   net.HardwareAddr
	Posts atomic.Int64

	bridge netlink.Link
}

// StartImpostor attaches a namespace with ip/prefix to bridge and serves
// on ip:port until the test ends. Claim makes it win the address.
func StartImpostor(t testing.TB, bridge string, ip net.IP, prefix, port int) *Impostor {
	t.Helper()
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatalf("impostor: bridge %s: %v", bridge, err)
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	host, peer := "imp"+hex.EncodeToString(b[:]), "imp"+hex.EncodeToString(b[:])+"p"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host, MasterIndex: br.Attrs().Index}, PeerName: peer}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("impostor: veth: %v", err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(veth) })
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatalf("impostor: veth up: %v", err)
	}
	ns, err := newNetns()
	if err != nil {
		t.Fatalf("impostor: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	peerLink, err := netlink.LinkByName(peer)
	if err != nil {
		t.Fatalf("impostor: %v", err)
	}
	if err := netlink.LinkSetNsFd(peerLink, int(ns)); err != nil {
		t.Fatalf("impostor: move the veth's peer: %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("impostor: %v", err)
	}
	defer h.Close()
	inside, err := h.LinkByName(peer)
	if err != nil {
		t.Fatalf("impostor: %v", err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(prefix, 32)}}
	if err := h.AddrAdd(inside, addr); err != nil {
		t.Fatalf("impostor: address %s: %v", addr, err)
	}
	for _, l := range []string{"lo", peer} {
		link, err := h.LinkByName(l)
		if err == nil {
			err = h.LinkSetUp(link)
		}
		if err != nil {
			t.Fatalf("impostor: %s up: %v", l, err)
		}
	}
	ln, err := listenIn(ns, fmt.Sprintf("%s:%d", ip, port))
	if err != nil {
		t.Fatalf("impostor: %v", err)
	}
	im := &Impostor{IP: ip, MAC: inside.Attrs().HardwareAddr, bridge: br}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		im.Posts.Add(1)
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, "impostor:"+string(body))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return im
}

// Claim makes the impostor win its address on the bridge, as one that
// answers ARP first or floods gratuitous ARP would: the host's neighbour
// entry for the address points at the impostor for good.
func (im *Impostor) Claim(t testing.TB) {
	t.Helper()
	n := &netlink.Neigh{LinkIndex: im.bridge.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
		IP: im.IP, HardwareAddr: im.MAC}
	if err := netlink.NeighSet(n); err != nil {
		t.Fatalf("impostor: claim %s: %v", im.IP, err)
	}
	t.Cleanup(func() { _ = netlink.NeighDel(n) })
}

// newNetns makes a network namespace and returns a handle on it, leaving
// the calling goroutine's thread where it was.
func newNetns() (netns.NsHandle, error) {
	type result struct {
		ns  netns.NsHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer home.Close()
		ns, err := netns.New() // the thread is in it now
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("new network namespace: %w", err)}
			return
		}
		if netns.Set(home) == nil {
			runtime.UnlockOSThread()
		} // else the thread ends with the goroutine
		done <- result{ns: ns}
	}()
	r := <-done
	return r.ns, r.err
}

// listenIn opens a TCP listener inside ns; the socket stays in ns while
// this process serves it.
func listenIn(ns netns.NsHandle, addr string) (net.Listener, error) {
	var ln net.Listener
	err := worker.InNetns(int(ns), func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s in the impostor's namespace: %w", addr, err)
	}
	return ln, nil
}

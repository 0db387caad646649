package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	gocni "github.com/containerd/go-cni"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"baton.dev/baton/worker"
)

// networkName names the CNI network; host-local keeps its reservations in
// <IPAM dir>/<networkName>/<ip>.
const networkName = "baton"

// network gives sandboxes their own network namespace on a CNI bridge:
// bridge (isGateway, no masquerade) with host-local IPAM, plus loopback.
type network struct {
	cni      gocni.CNI
	nsDir    string // bind-mounted namespace files, one per sandbox
	ipamDir  string
	idPrefix string // makes CNI container IDs unique across runtimes on one machine
	bridge   string
	// unhardened leaves the sandboxes' bridge ports open to each other.
	unhardened bool
	cniMu      sync.Mutex // held around CNI calls when serializeCNI
}

// lockCNI serializes CNI calls when serializeCNI says so.
func (n *network) lockCNI() func() {
	if !serializeCNI {
		return func() {}
	}
	n.cniMu.Lock()
	return n.cniMu.Unlock
}

func newNetwork(cfg Config) (*network, error) {
	if _, _, err := net.ParseCIDR(cfg.Subnet); err != nil {
		return nil, fmt.Errorf("subnet %q: %w", cfg.Subnet, err)
	}
	n := &network{
		nsDir:      filepath.Join(cfg.StateDir, "netns"),
		ipamDir:    filepath.Join(cfg.StateDir, "ipam"),
		bridge:     cfg.Bridge,
		unhardened: cfg.Unhardened,
	}
	sum := sha256.Sum256([]byte(cfg.StateDir))
	n.idPrefix = hex.EncodeToString(sum[:4]) + "-"
	for _, d := range []string{n.nsDir, n.ipamDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	conf, err := json.Marshal(map[string]any{
		"cniVersion": "1.0.0",
		"name":       networkName,
		"plugins": []any{map[string]any{
			"type":      "bridge",
			"bridge":    cfg.Bridge,
			"isGateway": true,
			"ipMasq":    false,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": cfg.Subnet}}},
				"dataDir": n.ipamDir,
			},
		}},
	})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "cni.conflist"), conf, 0o644); err != nil {
		return nil, err
	}
	n.cni, err = gocni.New(gocni.WithPluginDir([]string{cfg.CNIBinDir}), gocni.WithMinNetworkCount(2))
	if err != nil {
		return nil, fmt.Errorf("CNI: %w", err)
	}
	if err := n.cni.Load(gocni.WithLoNetwork, gocni.WithConfListBytes(conf)); err != nil {
		return nil, fmt.Errorf("CNI: load configuration: %w", err)
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cfg.CNIBinDir, plugin)); err != nil {
			return nil, fmt.Errorf("CNI plugin %s missing in %s (apt-get install containernetworking-plugins): %w", plugin, cfg.CNIBinDir, err)
		}
	}
	return n, nil
}

// nsPath is where sandbox id's network namespace is bind-mounted.
func (n *network) nsPath(id string) string { return filepath.Join(n.nsDir, id) }

// createNS creates a fresh network namespace bind-mounted at nsPath(id).
func (n *network) createNS(id string) (string, error) {
	path := n.nsPath(id)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return "", fmt.Errorf("network namespace file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread's namespace changes and is never switched back: the
		// goroutine ends while still locked, so Go discards the thread.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind-mount %s: %w", src, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return "", fmt.Errorf("create network namespace %s: %w", path, err)
	}
	return path, nil
}

// removeNS unmounts and removes sandbox id's namespace file; a missing one
// is not an error.
func (n *network) removeNS(id string) error {
	path := n.nsPath(id)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove network namespace %s: %w", path, err)
	}
	return nil
}

// attachment is what attaching a sandbox to the bridge gave it.
type attachment struct {
	ip      net.IP // the sandbox's IPv4 address
	gateway net.IP // the bridge's address, the sandbox's way out
	veth    string // its veth's host end, a port of the bridge
}

// setup attaches sandbox id's namespace to the bridge and returns its IP,
// its gateway and the name of its veth's host end. The sandbox gets no
// route beyond the bridge's subnet (routeOut gives it one).
func (n *network) setup(ctx context.Context, id string) (attachment, error) {
	defer n.lockCNI()()
	res, err := n.cni.Setup(ctx, n.idPrefix+id, n.nsPath(id))
	if err != nil {
		return attachment{}, fmt.Errorf("CNI setup: %w", err)
	}
	var at attachment
	for name, iface := range res.Interfaces {
		switch {
		case name == "lo":
		case iface.Sandbox == "" && name != n.bridge && iface.Mac != "":
			// The host end of the veth (go-cni also lists an empty
			// default interface, without a MAC).
			at.veth = name
		default:
			for _, ipc := range iface.IPConfigs {
				if v4 := ipc.IP.To4(); v4 != nil && at.ip == nil {
					at.ip, at.gateway = v4, ipc.Gateway.To4()
				}
			}
		}
	}
	if at.ip == nil {
		return attachment{}, errors.New("CNI setup: no IPv4 address in the result")
	}
	// An isolated bridge port forwards only to the bridge itself, never
	// to another isolated port: no sandbox reaches another (ARP included),
	// whoever's it is. The host reaches each, and the firewall keeps the
	// sandboxes off the host (machine.Firewall.Guard).
	if n.unhardened {
		return at, nil
	}
	link, err := netlink.LinkByName(at.veth)
	if err != nil {
		return attachment{}, fmt.Errorf("isolate the sandbox's bridge port %s: %w", at.veth, err)
	}
	if err := netlink.LinkSetIsolated(link, true); err != nil {
		return attachment{}, fmt.Errorf("isolate the sandbox's bridge port %s: %w", at.veth, err)
	}
	return at, nil
}

// routeOut gives sandbox id a default route through gateway (the bridge):
// for a sandbox with egress, whose connections the host then forwards as
// the firewall allows (machine.Firewall.AllowEgress).
func (n *network) routeOut(id string, gateway net.IP) error {
	if gateway == nil {
		return errors.New("default route: CNI gave no gateway")
	}
	ns, err := netns.GetFromPath(n.nsPath(id))
	if err != nil {
		return fmt.Errorf("default route: network namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	defer h.Close()
	if err := h.RouteAdd(&netlink.Route{Gw: gateway}); err != nil {
		return fmt.Errorf("default route via %s: %w", gateway, err)
	}
	return nil
}

// teardown detaches sandbox id and releases its IP. It works on a namespace
// that is already gone.
func (n *network) teardown(ctx context.Context, id string) error {
	defer n.lockCNI()()
	if err := n.cni.Remove(ctx, n.idPrefix+id, n.nsPath(id)); err != nil {
		return fmt.Errorf("CNI teardown: %w", err)
	}
	return nil
}

// holds reports whether sandbox id's network namespace has the server end
// of connection c: a thread enters the namespace and asks the kernel for
// that one socket (worker.HoldsConn). The function's code
// cannot change what the kernel answers.
func (n *network) holds(id string, c worker.Conn) (bool, error) {
	ns, err := os.Open(n.nsPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("sandbox %s: %w (no network namespace)", id, worker.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("sandbox %s: network namespace: %w", id, err)
	}
	defer ns.Close()
	var ok bool
	err = worker.InNetns(int(ns.Fd()), func() (err error) {
		ok, err = worker.HoldsConn(c)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sandbox %s: %w", id, err)
	}
	return ok, nil
}

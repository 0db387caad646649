package machine

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
)

// The firewall keeps a worker's sandboxes off the host, over IPv4 and
// IPv6 alike (ip6tables: a sandbox and the host have link-local IPv6
// addresses on the bridge). Every packet a sandbox sends through its bridge to the host itself (INPUT: the API,
// NATS, Postgres, containerd, anything bound to 0.0.0.0) or through the
// host to elsewhere (FORWARD) goes to the bridge's chain, which lets
// through only the answers to connections the host opened (the
// orchestrator's and the worker's calls to the sandboxes) and drops the
// rest. Sandboxes on one bridge cannot reach each other either: their
// ports are isolated on the bridge (see the containerd runtime's network).
// A sandbox whose workflow has egress is let through FORWARD to public
// addresses only (AllowEgress, below).

// chainFor is the iptables chain of a bridge (in the filter table; in the
// nat table, the chain of its sandboxes' egress NAT).
func chainFor(bridge string) string { return "BATON-" + bridge }

// egressChainFor is the filter chain that decides where a sandbox with
// egress may open connections: at most 28 characters for a bridge name
// of 15, as iptables wants.
func egressChainFor(bridge string) string { return "BATON-" + bridge + "-EGRESS" }

// Firewall installs and removes bridges' firewalls and their sandboxes'
// egress rules. It serializes its changes and remembers the bridges whose
// egress rules it installed, so a worker's runtime holds one for its
// bridge. The zero value is ready to use.
type Firewall struct {
	mu sync.Mutex
	// ready holds the bridges whose per-bridge egress rules this
	// Firewall installed since their firewall was last (re)installed.
	ready map[string]bool
}

// UnguardBridge is Unguard on a Firewall of its own: what a sweep of a
// dead worker's bridge uses.
func UnguardBridge(bridge string) error { return new(Firewall).Unguard(bridge) }

// Guard installs (again, idempotently) the firewall of bridge; the
// bridge need not exist yet. Egress an earlier incarnation allowed is
// removed with it: the runtime allows it again for the sandboxes it keeps.
func (f *Firewall) Guard(bridge string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ready, bridge)
	// IPv4 and IPv6 alike: a sandbox has an IPv6 link-local address on
	// the bridge, and so has the host, where anything bound to [::]
	// answers.
	for _, ipt := range []func(...string) error{iptables, ip6tables} {
		if err := guard(ipt, bridge); err != nil {
			return fmt.Errorf("firewall of %s: %w", bridge, err)
		}
	}
	if err := removeEgress(bridge); err != nil {
		return fmt.Errorf("firewall of %s: %w", bridge, err)
	}
	return nil
}

// guard installs the bridge's chain with ipt (iptables or ip6tables):
// answers to the host's connections pass, the rest is dropped, from
// INPUT and FORWARD.
func guard(ipt func(...string) error, bridge string) error {
	chain := chainFor(bridge)
	if err := ipt("-N", chain); err != nil && !strings.Contains(err.Error(), "exists") {
		return err
	}
	for _, rule := range [][]string{
		{"-F", chain},
		{"-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-A", chain, "-j", "DROP"},
	} {
		if err := ipt(rule...); err != nil {
			return err
		}
	}
	for _, hook := range []string{"INPUT", "FORWARD"} {
		if ipt("-C", hook, "-i", bridge, "-j", chain) == nil {
			continue
		}
		if err := ipt("-I", hook, "1", "-i", bridge, "-j", chain); err != nil {
			return err
		}
	}
	return nil
}

// Unguard removes the firewall of bridge, its egress rules included; one
// that is not there is not an error.
func (f *Firewall) Unguard(bridge string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ready, bridge)
	var errs []error
	for _, ipt := range []func(...string) error{iptables, ip6tables} {
		errs = append(errs, unguard(ipt, bridge)...)
	}
	if err := removeEgress(bridge); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove the firewall of %s: %w", bridge, err)
	}
	return nil
}

// unguard removes the bridge's chain and its hooks with ipt.
func unguard(ipt func(...string) error, bridge string) []error {
	chain := chainFor(bridge)
	var errs []error
	for _, hook := range []string{"INPUT", "FORWARD"} {
		for ipt("-C", hook, "-i", bridge, "-j", chain) == nil {
			if err := ipt("-D", hook, "-i", bridge, "-j", chain); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	if ipt("-L", chain, "-n") == nil {
		if err := ipt("-F", chain); err != nil {
			errs = append(errs, err)
		}
		if err := ipt("-X", chain); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Guarded reports whether bridge's firewall is installed.
func Guarded(bridge string) bool {
	return iptables("-C", "INPUT", "-i", bridge, "-j", chainFor(bridge)) == nil &&
		ip6tables("-C", "INPUT", "-i", bridge, "-j", chainFor(bridge)) == nil
}

// Egress. A sandbox whose workflow asks for egress (and whose operator
// allows it) gets a default route through the bridge's gateway, and
// these rules, by its address (they come and go with the sandbox):
//
//	filter BATON-<bridge>:        -s IP/32 -j BATON-<bridge>-EGRESS  (before the DROP)
//	nat BATON-<bridge>:           -s IP/32 ! -o <bridge> -j MASQUERADE
//
// and the bridge gets, with its first such sandbox (they go with the
// bridge's firewall):
//
//	filter BATON-<bridge>-EGRESS: drop what goes to the host itself (any
//	                              of its addresses, or a broadcast address
//	                              of its networks: addrtype LOCAL,BROADCAST),
//	                              back out of the bridge (another sandbox)
//	                              or to a non-public range (privateRanges);
//	                              accept the rest
//	filter FORWARD:               ! -i <bridge> -o <bridge> ESTABLISHED,RELATED ACCEPT
//	                              (answers, where FORWARD's policy drops)
//	nat POSTROUTING:              -j BATON-<bridge>
//
// INPUT from the bridge still goes to BATON-<bridge> alone, whose DROP
// keeps every sandbox off the host. Forwarding itself (ip_forward) is
// turned on by the CNI bridge plugin, whose gateway the bridge is.

// privateRanges are the IPv4 destinations no sandbox reaches, egress or
// not: this network (0/8), private (RFC 1918), shared address space
// (carrier-grade NAT, 100.64/10), loopback, link-local (the cloud
// metadata service at 169.254.169.254 included), IETF protocol
// assignments (192.0.0/24), benchmarking (198.18/15), multicast and
// reserved (240/4, the limited broadcast included). Sandboxes have no
// IPv6 address or route beyond link-local, so no IPv6 leaves them.
var privateRanges = []string{
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"224.0.0.0/4", "240.0.0.0/4",
}

// PrivateRanges returns the IPv4 ranges a sandbox with egress still
// cannot reach (besides the host itself and other sandboxes).
func PrivateRanges() []string { return append([]string(nil), privateRanges...) }

// AllowEgress lets the sandbox at ip on bridge open connections to public
// addresses, NATed to the host's address: the rules above. The bridge's
// firewall (Guard) must be installed. Allowing one twice is not an
// error.
func (f *Firewall) AllowEgress(bridge string, ip net.IP) error {
	v4 := ip.To4()
	if v4 == nil {
		return fmt.Errorf("egress of %s on %s: not an IPv4 address", ip, bridge)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyEgress(bridge); err != nil {
		return fmt.Errorf("egress of %s on %s: %w", ip, bridge, err)
	}
	src := v4.String() + "/32"
	filter, nat := egressRules(bridge, src)
	if iptables(append([]string{"-C"}, filter...)...) != nil {
		// Before the chain's final DROP, after ESTABLISHED,RELATED.
		if err := iptables(append([]string{"-I", filter[0], "2"}, filter[1:]...)...); err != nil {
			return fmt.Errorf("egress of %s on %s: %w", ip, bridge, err)
		}
	}
	if iptables(append([]string{"-t", "nat", "-C"}, nat...)...) != nil {
		if err := iptables(append([]string{"-t", "nat", "-A"}, nat...)...); err != nil {
			return fmt.Errorf("egress of %s on %s: %w", ip, bridge, err)
		}
	}
	return nil
}

// DenyEgress removes the egress rules of the sandbox at ip on bridge;
// rules that are not there are not an error.
func (f *Firewall) DenyEgress(bridge string, ip net.IP) error {
	v4 := ip.To4()
	if v4 == nil {
		return fmt.Errorf("egress of %s on %s: not an IPv4 address", ip, bridge)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	filter, nat := egressRules(bridge, v4.String()+"/32")
	var errs []error
	for iptables(append([]string{"-C"}, filter...)...) == nil {
		if err := iptables(append([]string{"-D"}, filter...)...); err != nil {
			errs = append(errs, err)
			break
		}
	}
	for iptables(append([]string{"-t", "nat", "-C"}, nat...)...) == nil {
		if err := iptables(append([]string{"-t", "nat", "-D"}, nat...)...); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove the egress of %s on %s: %w", ip, bridge, err)
	}
	return nil
}

// EgressAllowed reports whether the egress rules of the sandbox at ip on
// bridge are installed (both of them).
func EgressAllowed(bridge string, ip net.IP) bool {
	filter, nat := egressRules(bridge, ip.To4().String()+"/32")
	return iptables(append([]string{"-C"}, filter...)...) == nil &&
		iptables(append([]string{"-t", "nat", "-C"}, nat...)...) == nil
}

// egressRules are a sandbox's two rules (chain first, without the
// command): filter and nat.
func egressRules(bridge, src string) (filter, nat []string) {
	return []string{chainFor(bridge), "-s", src, "-j", egressChainFor(bridge)},
		[]string{chainFor(bridge), "-s", src, "!", "-o", bridge, "-j", "MASQUERADE"}
}

// readyEgress installs the bridge's egress rules once per firewall
// installation. The egress chain's ACCEPT comes last, so a chain left
// half made by a crash accepts nothing (and Guard rebuilds it).
// The caller holds f.mu.
func (f *Firewall) readyEgress(bridge string) error {
	if f.ready[bridge] {
		return nil
	}
	if iptables("-L", chainFor(bridge), "-n") != nil {
		return fmt.Errorf("the bridge's firewall is not installed")
	}
	egress := egressChainFor(bridge)
	if err := iptables("-N", egress); err != nil && !strings.Contains(err.Error(), "exists") {
		return err
	}
	rules := [][]string{
		{"-F", egress},
		{"-A", egress, "-m", "addrtype", "--dst-type", "LOCAL,BROADCAST", "-j", "DROP"},
		{"-A", egress, "-o", bridge, "-j", "DROP"},
	}
	for _, r := range privateRanges {
		rules = append(rules, []string{"-A", egress, "-d", r, "-j", "DROP"})
	}
	rules = append(rules, []string{"-A", egress, "-j", "ACCEPT"})
	for _, r := range rules {
		if err := iptables(r...); err != nil {
			return err
		}
	}
	if iptables(append([]string{"-C", "FORWARD"}, answersTo(bridge)...)...) != nil {
		if err := iptables(append([]string{"-I", "FORWARD", "1"}, answersTo(bridge)...)...); err != nil {
			return err
		}
	}
	nat := chainFor(bridge)
	if err := iptables("-t", "nat", "-N", nat); err != nil && !strings.Contains(err.Error(), "exists") {
		return err
	}
	if iptables("-t", "nat", "-C", "POSTROUTING", "-j", nat) != nil {
		if err := iptables("-t", "nat", "-I", "POSTROUTING", "1", "-j", nat); err != nil {
			return err
		}
	}
	if f.ready == nil {
		f.ready = map[string]bool{}
	}
	f.ready[bridge] = true
	return nil
}

// answersTo is the FORWARD rule (without the command and chain) that
// lets the answers to sandboxes' connections back in.
func answersTo(bridge string) []string {
	return []string{"!", "-i", bridge, "-o", bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"}
}

// removeEgress removes every egress rule of bridge: the per-bridge ones
// and, with the nat chain, every sandbox's NAT rule. The filter jumps
// into the egress chain must be gone already (Guard and
// Unguard flush the bridge's chain first). The caller holds the
// Firewall's lock.
func removeEgress(bridge string) error {
	var errs []error
	for iptables(append([]string{"-C", "FORWARD"}, answersTo(bridge)...)...) == nil {
		if err := iptables(append([]string{"-D", "FORWARD"}, answersTo(bridge)...)...); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if egress := egressChainFor(bridge); iptables("-L", egress, "-n") == nil {
		if err := iptables("-F", egress); err != nil {
			errs = append(errs, err)
		}
		if err := iptables("-X", egress); err != nil {
			errs = append(errs, err)
		}
	}
	nat := chainFor(bridge)
	for iptables("-t", "nat", "-C", "POSTROUTING", "-j", nat) == nil {
		if err := iptables("-t", "nat", "-D", "POSTROUTING", "-j", nat); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if iptables("-t", "nat", "-L", nat, "-n") == nil {
		if err := iptables("-t", "nat", "-F", nat); err != nil {
			errs = append(errs, err)
		}
		if err := iptables("-t", "nat", "-X", nat); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// iptables runs iptables, waiting for the lock other writers hold.
func iptables(args ...string) error { return xtables("iptables", args...) }

// ip6tables is iptables for IPv6.
func ip6tables(args ...string) error { return xtables("ip6tables", args...) }

func xtables(bin string, args ...string) error {
	out, err := exec.Command(bin, append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

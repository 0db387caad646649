package machine

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// The firewall keeps a worker's sandboxes off the host. Every packet a
// sandbox sends through its bridge to the host itself (INPUT: the API,
// NATS, Postgres, containerd, anything bound to 0.0.0.0) or through the
// host to elsewhere (FORWARD) goes to the bridge's chain, which lets
// through only the answers to connections the host opened (the
// orchestrator's and the worker's calls to the sandboxes) and drops the
// rest. Sandboxes on one bridge cannot reach each other either: their
// ports are isolated on the bridge (see the containerd runtime's network).

// chainFor is the iptables chain of a bridge.
func chainFor(bridge string) string { return "BATON-" + bridge }

// GuardBridge installs (again, idempotently) the firewall of bridge; the
// bridge need not exist yet.
func GuardBridge(bridge string) error {
	chain := chainFor(bridge)
	if err := iptables("-N", chain); err != nil && !strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("firewall of %s: %w", bridge, err)
	}
	for _, rule := range [][]string{
		{"-F", chain},
		{"-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-A", chain, "-j", "DROP"},
	} {
		if err := iptables(rule...); err != nil {
			return fmt.Errorf("firewall of %s: %w", bridge, err)
		}
	}
	for _, hook := range []string{"INPUT", "FORWARD"} {
		if iptables("-C", hook, "-i", bridge, "-j", chain) == nil {
			continue
		}
		if err := iptables("-I", hook, "1", "-i", bridge, "-j", chain); err != nil {
			return fmt.Errorf("firewall of %s: %w", bridge, err)
		}
	}
	return nil
}

// UnguardBridge removes the firewall of bridge; one that is not there is
// not an error.
func UnguardBridge(bridge string) error {
	chain := chainFor(bridge)
	var errs []error
	for _, hook := range []string{"INPUT", "FORWARD"} {
		for iptables("-C", hook, "-i", bridge, "-j", chain) == nil {
			if err := iptables("-D", hook, "-i", bridge, "-j", chain); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	if iptables("-L", chain, "-n") == nil {
		if err := iptables("-F", chain); err != nil {
			errs = append(errs, err)
		}
		if err := iptables("-X", chain); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove the firewall of %s: %w", bridge, err)
	}
	return nil
}

// Guarded reports whether bridge's firewall is installed.
func Guarded(bridge string) bool {
	return iptables("-C", "INPUT", "-i", bridge, "-j", chainFor(bridge)) == nil
}

// iptables runs iptables, waiting for the lock other writers hold.
func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

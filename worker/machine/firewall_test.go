package machine

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestEgressRulesGoWithTheSandboxAndTheBridge allows and denies egress on
// a bridge's firewall (the bridge need not exist): a sandbox's two rules
// come once however often they are allowed and go with DenyEgress; a
// reinstalled firewall (a restarted worker) has no egress left until it
// is allowed again; and RemoveBridge, which a sweep of a killed worker
// calls, leaves nothing that names the bridge in the filter or nat table.
func TestEgressRulesGoWithTheSandboxAndTheBridge(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: iptables")
	}
	const bridge = "baton-egt-m"
	a, b := net.IPv4(10, 179, 18, 50), net.IPv4(10, 179, 18, 51)
	_, _ = RemoveBridge(bridge) // a crashed run's
	t.Cleanup(func() { _, _ = RemoveBridge(bridge) })
	fw := new(Firewall)
	if err := fw.AllowEgress(bridge, a); err == nil || !strings.Contains(err.Error(), "firewall is not installed") {
		t.Errorf("egress without the bridge's firewall: %v, want refused", err)
	}
	if err := fw.Guard(bridge); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []net.IP{a, a, b} {
		if err := fw.AllowEgress(bridge, ip); err != nil {
			t.Fatalf("allow %s: %v", ip, err)
		}
	}
	rules := func() string { return rulesNaming(t, bridge) }
	for _, want := range []string{
		"-A BATON-baton-egt-m -s 10.179.18.50/32 -j BATON-baton-egt-m-EGRESS",
		"-A BATON-baton-egt-m -s 10.179.18.51/32 -j BATON-baton-egt-m-EGRESS",
		"-A BATON-baton-egt-m -s 10.179.18.50/32 ! -o baton-egt-m -j MASQUERADE",
		"-A BATON-baton-egt-m-EGRESS -m addrtype --dst-type LOCAL,BROADCAST -j DROP",
		"-A FORWARD ! -i baton-egt-m -o baton-egt-m -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-A POSTROUTING -j BATON-baton-egt-m",
	} {
		if n := strings.Count(rules(), want+"\n"); n != 1 {
			t.Errorf("%d times %q, want once in:\n%s", n, want, rules())
		}
	}
	if !EgressAllowed(bridge, a) || !EgressAllowed(bridge, b) {
		t.Errorf("EgressAllowed is false for an allowed sandbox")
	}

	if err := fw.DenyEgress(bridge, a); err != nil {
		t.Fatal(err)
	}
	if err := fw.DenyEgress(bridge, a); err != nil {
		t.Errorf("a second deny: %v", err)
	}
	if strings.Contains(rules(), "10.179.18.50/32") || EgressAllowed(bridge, a) {
		t.Errorf("rules of a denied sandbox left:\n%s", rules())
	}
	if !EgressAllowed(bridge, b) {
		t.Errorf("denying one sandbox took another's egress")
	}

	// A restarted worker reinstalls the firewall: no egress is left
	// until it allows its kept sandboxes again.
	if err := fw.Guard(bridge); err != nil {
		t.Fatal(err)
	}
	if got := rules(); strings.Contains(got, "EGRESS") || strings.Contains(got, "MASQUERADE") || strings.Contains(got, "POSTROUTING") {
		t.Errorf("egress left after the firewall was reinstalled:\n%s", got)
	}
	if err := fw.AllowEgress(bridge, b); err != nil || !EgressAllowed(bridge, b) {
		t.Errorf("allow again after the firewall was reinstalled: %v", err)
	}

	// What a sweep of a killed worker does: nothing names the bridge
	// afterwards.
	if _, err := RemoveBridge(bridge); err != nil {
		t.Fatal(err)
	}
	if got := rules(); got != "" {
		t.Errorf("left after RemoveBridge:\n%s", got)
	}
}

// rulesNaming returns the lines of `iptables -S` and `iptables -t nat -S`
// that name bridge.
func rulesNaming(t *testing.T, bridge string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"filter", "nat"} {
		out, err := exec.Command("iptables", "-w", "5", "-t", table, "-S").CombinedOutput()
		if err != nil {
			t.Fatalf("iptables -t %s -S: %v: %s", table, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, bridge) {
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String()
}

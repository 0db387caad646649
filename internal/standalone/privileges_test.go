package standalone_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/client"
	ctrd "baton.dev/baton/worker/containerd"
	"baton.dev/baton/workflow"
)

// privilegesSubnet is this file's sandbox subnet (tests on one machine
// need their own).
const privilegesSubnet = "10.185.0.0/16"

// privilegedYAML is a one-function workflow of the test image; network
// and security are YAML lines put in spec (two spaces) and in the
// function (six spaces), "" for none.
func privilegedYAML(name, network, security string) []byte {
	if network != "" {
		network = "  network: " + network + "\n"
	}
	if security != "" {
		security = "      security: " + security + "\n"
	}
	return []byte(fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: %s}
spec:
%s  functions:
    f:
      image: baton.local/testfn-ok:v1
      resources: {cpu: 100m, memory: 64Mi}
%s  stages:
    - {name: only, function: f}
`, name, network, security))
}

// TestDeployRefusesPrivilegesTheOperatorDidNotAllow deploys workflows
// asking for egress, capabilities and root to an orchestrator that allows
// some of them: what is not allowed is refused with 422 naming the field
// at its file, line and column, and nothing is stored (a redeploy refused
// keeps the revision before it); what Baton never offers (privileged,
// host paths) and unknown capabilities are refused with 400. Restarted
// with nothing allowed, the orchestrator refuses egress too and gives a
// stored workflow that asks for more than it allows no sandbox.
func TestDeployRefusesPrivilegesTheOperatorDidNotAllow(t *testing.T) {
	ctx := context.Background()
	dataDir := shortTempDir(t)
	start := func(allow orchestrator.Privileges) *standalone.Cluster {
		return startBaton(t, standalone.Config{
			DataDir: dataDir, Runtime: standalone.RuntimeProcess, Postgres: "off",
			Orchestration: standalone.Orchestration{KeepAlive: time.Minute, Allow: allow},
		}, slog.LevelWarn)
	}
	cl := start(orchestrator.Privileges{Egress: true, Capabilities: []string{"NET_BIND_SERVICE"}})
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cl.Stop(context.Background())
		}
	})
	api := &client.Client{URL: cl.URL, Token: cl.Token}

	allowed := privilegedYAML("allowed", "{egress: internet}", "{capabilities: [NET_BIND_SERVICE]}")
	first, err := api.Deploy(ctx, "allowed.yaml", allowed)
	if err != nil {
		t.Fatalf("deploy what the operator allows: %v", err)
	}

	tests := []struct {
		name, file string
		doc        []byte
		status     int
		// field and at (line:col) of the one problem; message holds msg.
		field, at, msg string
	}{
		{"root", "root.yaml", privilegedYAML("root", "", "{runAsRoot: true}"), 422,
			"spec.functions.f.security.runAsRoot", "9:29", "running as root is not allowed on this cluster"},
		{"a capability not allowed", "admin.yaml", privilegedYAML("admin", "", "{capabilities: [NET_BIND_SERVICE, SYS_ADMIN]}"), 422,
			"spec.functions.f.security.capabilities[1]", "9:51", "capability SYS_ADMIN is not allowed on this cluster (it allows NET_BIND_SERVICE; the operator allows one with --allow-capability SYS_ADMIN)"},
		{"a refused redeploy", "allowed.yaml", privilegedYAML("allowed", "{egress: internet}", "{capabilities: [NET_BIND_SERVICE], runAsRoot: true}"), 422,
			"spec.functions.f.security.runAsRoot", "10:63", "--allow-root"},
		{"privileged", "priv.yaml", privilegedYAML("priv", "", "{privileged: true}"), 400,
			"spec.functions.f.security.privileged", "9:30", "Baton runs no privileged sandboxes"},
		{"host paths", "host.yaml", privilegedYAML("host", "", "{hostPaths: [/etc]}"), 400,
			"spec.functions.f.security.hostPaths", "9:29", "Baton mounts no host paths"},
		{"an unknown capability", "bogus.yaml", privilegedYAML("bogus", "", "{capabilities: [CAP_NET_RAW]}"), 400,
			"spec.functions.f.security.capabilities[0]", "9:33", `write capability "CAP_NET_RAW" without the CAP_ prefix`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.Deploy(ctx, tt.file, tt.doc)
			refusedAt(t, err, tt.status, tt.file, tt.field, tt.at, tt.msg)
		})
	}
	list, err := api.Workflows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "allowed" || list[0].Revision != first.Revision {
		t.Errorf("stored after the refusals: %+v, want only allowed at revision %d", list, first.Revision)
	}
	if got, err := api.Workflow(ctx, "allowed"); err != nil || got.Source != string(allowed) {
		t.Errorf("allowed after a refused redeploy: %v, source changed: %v", err, got != nil && got.Source != string(allowed))
	}

	// Restarted allowing nothing: egress is refused, and the stored
	// workflow that asks for it gets no sandbox.
	if err := cl.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	cl = start(orchestrator.Privileges{})
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	api = &client.Client{URL: cl.URL, Token: cl.Token}
	_, err = api.Deploy(ctx, "egress.yaml", privilegedYAML("egress", "{egress: internet}", ""))
	refusedAt(t, err, 422, "egress.yaml", "spec.network.egress", "5:21", `egress "internet" is not allowed on this cluster`)
	if _, err := api.Workflow(ctx, "egress"); err == nil {
		t.Errorf("a refused workflow was stored")
	}
	if res, err := api.Invoke(ctx, "allowed", []byte(`{}`)); err == nil {
		t.Errorf("a stored workflow asking for what is no longer allowed was invoked: %s", res.Output)
	}
	if _, err := api.Deploy(ctx, "plain.yaml", privilegedYAML("plain", "{egress: none}", "{capabilities: [], runAsRoot: false}")); err != nil {
		t.Errorf("a workflow asking for nothing: %v", err)
	}
}

// refusedAt checks that err is the API's status with one problem: field
// at file:at, its message holding msg.
func refusedAt(t *testing.T, err error, status int, file, field, at, msg string) {
	t.Helper()
	ce := wantStatus(t, field, err, status, msg)
	if ce == nil {
		return
	}
	want := workflow.Problem{File: file, Field: field}
	fmt.Sscanf(at, "%d:%d", &want.Line, &want.Col)
	if len(ce.Problems) != 1 {
		t.Fatalf("problems %+v, want one at %s", ce.Problems, field)
	}
	got := ce.Problems[0]
	if got.File != want.File || got.Line != want.Line || got.Col != want.Col || got.Field != want.Field || !strings.Contains(got.Msg, msg) {
		t.Errorf("problem %q, want %s:%s: %s: ...%s...", got.Error(), file, at, field, msg)
	}
	if !strings.Contains(ce.Message, fmt.Sprintf("%s:%s: %s: ", file, at, field)) {
		t.Errorf("message %q does not name %s:%s: %s", ce.Message, file, at, field)
	}
}

// TestGrantedPrivilegesReachTheSandbox deploys, to a real containerd
// worker whose operator allows egress and NET_BIND_SERVICE, a workflow
// asking for both and one asking for nothing: the first's sandbox holds
// exactly that capability, has a default route and its egress rules; the
// second's has none of it. A redeploy without egress replaces the
// sandbox, and the old one's rules go with it; nothing is left in
// iptables once Baton stops.
func TestGrantedPrivilegesReachTheSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups, network namespaces, a bridge and iptables")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bridge := ctrd.BridgeFor(privilegesSubnet)
	t.Cleanup(func() { // runs last
		for _, table := range []string{"filter", "nat"} {
			if s := iptablesRules(t, table); strings.Contains(s, bridge) {
				t.Errorf("iptables -t %s still names %s after Baton stopped:\n%s", table, bridge, s)
			}
		}
	})
	cl := startBaton(t, standalone.Config{
		Runtime: standalone.RuntimeContainerd, Subnet: privilegesSubnet, Postgres: "off",
		Orchestration: standalone.Orchestration{KeepAlive: time.Minute, HealthTimeout: 10 * time.Second, AutoscaleTick: 250 * time.Millisecond,
			Allow: orchestrator.Privileges{Egress: true, Capabilities: []string{"NET_BIND_SERVICE"}}},
	}, slog.LevelInfo)
	t.Cleanup(func() {
		if err := cl.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	api := &client.Client{URL: cl.URL, Token: cl.Token}
	cc, err := containerd.New(cl.ContainerdAddress)
	if err != nil {
		t.Fatalf("connect to containerd: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	cctx := namespaces.WithNamespace(ctx, "baton")

	// sandboxOf invokes workflow name and returns the sandbox its stage
	// ran on and that sandbox's address.
	sandboxOf := func(name string) (id, endpoint string) {
		t.Helper()
		res, err := api.Invoke(ctx, name, []byte(`{"hello":"world"}`))
		if err != nil {
			t.Fatalf("invoke %s: %v", name, err)
		}
		inv, err := api.Invocation(ctx, res.InvocationID)
		if err != nil || len(inv.Stages) != 1 {
			t.Fatalf("invocation of %s: %+v, %v", name, inv, err)
		}
		c, err := cc.LoadContainer(cctx, inv.Stages[0].Sandbox)
		if err != nil {
			t.Fatal(err)
		}
		labels, err := c.Labels(cctx)
		if err != nil {
			t.Fatal(err)
		}
		return c.ID(), labels["baton.dev/endpoint"]
	}

	if _, err := api.Deploy(ctx, "open.yaml", privilegedYAML("open", "{egress: internet}", "{capabilities: [NET_BIND_SERVICE]}")); err != nil {
		t.Fatalf("deploy open: %v", err)
	}
	if _, err := api.Deploy(ctx, "shut.yaml", privilegedYAML("shut", "", "")); err != nil {
		t.Fatalf("deploy shut: %v", err)
	}
	openID, openEndpoint := sandboxOf("open")
	openIP := ipOf(t, openEndpoint)
	s := selfReportOf(t, openEndpoint)
	if s.UID != 65534 || s.CapEff != "0000000000000400" || !s.DefaultRoute {
		t.Errorf("the sandbox with egress and NET_BIND_SERVICE: uid %d, CapEff %s, default route %v; want 65534, 0000000000000400 (NET_BIND_SERVICE), true", s.UID, s.CapEff, s.DefaultRoute)
	}
	egressRule := fmt.Sprintf("-A BATON-%s -s %s/32 -j BATON-%s-EGRESS", bridge, openIP, bridge)
	natRule := fmt.Sprintf("-A BATON-%s -s %s/32 ! -o %s -j MASQUERADE", bridge, openIP, bridge)
	if !strings.Contains(iptablesRules(t, "filter"), egressRule) || !strings.Contains(iptablesRules(t, "nat"), natRule) {
		t.Errorf("the sandbox with egress lacks its rules (%q, %q)", egressRule, natRule)
	}
	_, shutEndpoint := sandboxOf("shut")
	if s := selfReportOf(t, shutEndpoint); s.UID != 65534 || s.CapEff != "0000000000000000" || s.DefaultRoute {
		t.Errorf("the sandbox asking for nothing: uid %d, CapEff %s, default route %v; want 65534, none, false", s.UID, s.CapEff, s.DefaultRoute)
	}
	if all := iptablesRules(t, "filter") + iptablesRules(t, "nat"); strings.Contains(all, ipOf(t, shutEndpoint)+"/32") {
		t.Errorf("a rule names the sandbox without egress")
	}

	// Redeployed without egress: a new sandbox without a route; the old
	// one is retired and its rules go with it.
	if _, err := api.Deploy(ctx, "open.yaml", privilegedYAML("open", "", "{capabilities: [NET_BIND_SERVICE]}")); err != nil {
		t.Fatalf("redeploy open without egress: %v", err)
	}
	newID, newEndpoint := sandboxOf("open")
	if newID == openID {
		t.Errorf("the redeploy without egress kept sandbox %s", openID)
	}
	if s := selfReportOf(t, newEndpoint); s.DefaultRoute || s.CapEff != "0000000000000400" {
		t.Errorf("after the redeploy without egress: CapEff %s, default route %v; want NET_BIND_SERVICE and no route", s.CapEff, s.DefaultRoute)
	}
	for containerIDs(t, cctx, cc)[openID] {
		if ctx.Err() != nil {
			t.Fatalf("the retired sandbox %s is still in containerd", openID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if all := iptablesRules(t, "filter") + iptablesRules(t, "nat"); strings.Contains(all, egressRule) || strings.Contains(all, natRule) {
		t.Errorf("the retired sandbox's egress rules are still there")
	}
}

// selfReport is the test function's GET /self.
type selfReport struct {
	UID          int    `json:"uid"`
	CapEff       string `json:"capEff"`
	DefaultRoute bool   `json:"defaultRoute"`
}

func selfReportOf(t *testing.T, endpoint string) selfReport {
	t.Helper()
	resp, err := http.Get(endpoint + "/self")
	if err != nil {
		t.Fatalf("GET %s/self: %v", endpoint, err)
	}
	defer resp.Body.Close()
	var s selfReport
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s/self: %d, %v", endpoint, resp.StatusCode, err)
	}
	return s
}

func ipOf(t *testing.T, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname()
}

// iptablesRules is `iptables -t table -S`.
func iptablesRules(t *testing.T, table string) string {
	out, err := exec.Command("iptables", "-w", "5", "-t", table, "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -t %s -S: %v: %s", table, err, out)
	}
	return string(out)
}

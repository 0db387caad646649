package standalone_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
	ctrd "baton.dev/baton/worker/containerd"
)

// identitySubnet is this test's sandbox subnet (tests on one machine need
// their own).
const identitySubnet = "10.168.0.0/16"

// nameYAML deploys one function of the test image that answers with its
// name; close makes it close every connection, so that the orchestrator
// dials for every call.
func nameYAML(workflow, name string, close bool) []byte {
	env := fmt.Sprintf("{BATON_TESTFN_NAME: %s}", name)
	if close {
		env = fmt.Sprintf("{BATON_TESTFN_NAME: %s, BATON_TESTFN_CLOSE: \"1\"}", name)
	}
	return []byte(fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: %s}
spec:
  functions:
    f: {image: baton.local/testfn-ok:v1, resources: {cpu: 100m, memory: 64Mi}, env: %s}
  stages:
    - {name: only, function: f}
`, workflow, env))
}

// TestIdentityCheckDefeatsAnImpostor puts a foreign HTTP server on the
// sandbox bridge of a real containerd worker, holding a sandbox's address
// and winning it (its MAC in the host's neighbour table), and checks that
// no request reaches it: the invocation is answered by the function it
// named, and the sandbox whose address was taken is replaced.
func TestIdentityCheckDefeatsAnImpostor(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and a bridge")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dataDir := shortTempDir(t)
	cl := startBaton(t, standalone.Config{
		DataDir: dataDir, Runtime: standalone.RuntimeContainerd, Subnet: identitySubnet,
		Orchestration: standalone.Orchestration{KeepAlive: time.Minute, HealthTimeout: 10 * time.Second, AutoscaleTick: 100 * time.Millisecond},
	}, slog.LevelInfo)
	t.Cleanup(func() {
		if err := cl.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	api := &client.Client{URL: cl.URL, Token: cl.Token}
	bridge := ctrd.BridgeFor(identitySubnet)
	invoke := func(t *testing.T, workflow, name, in string) {
		t.Helper()
		res, err := api.Invoke(ctx, workflow, []byte(in))
		if err != nil {
			t.Fatalf("invoke %s: %v", workflow, err)
		}
		if want := name + ":" + in; string(res.Output) != want {
			t.Fatalf("invoke %s answered %q, want %q: another function's code ran", workflow, res.Output, want)
		}
	}

	t.Run("an impostor at the address the next sandbox gets", func(t *testing.T) {
		if _, err := api.Deploy(ctx, "first.yaml", nameYAML("first", "first", false)); err != nil {
			t.Fatal(err)
		}
		invoke(t, "first", "first", `{"n":1}`) // the bridge exists now
		next := nextAddress(t, filepath.Join(dataDir, "workers", "local-1", "sandboxes", "ipam", "baton"))
		im := testenv.StartImpostor(t, bridge, next, 16, ctrd.Port)
		im.Claim(t)
		before := metricValue(t, cl.URL, cl.AdminToken, "baton_sandbox_identity_failures_total")
		if _, err := api.Deploy(ctx, "second.yaml", nameYAML("second", "second", false)); err != nil {
			t.Fatal(err)
		}
		invoke(t, "second", "second", `{"n":2}`)
		if n := im.Posts.Load(); n != 0 {
			t.Errorf("the impostor at %s got %d requests", next, n)
		}
		if got := metricValue(t, cl.URL, cl.AdminToken, "baton_sandbox_identity_failures_total"); got <= before {
			t.Errorf("baton_sandbox_identity_failures_total = %v, want more than %v: the impostor was never met", got, before)
		}
	})

	t.Run("an impostor takes over a live sandbox's address", func(t *testing.T) {
		if _, err := api.Deploy(ctx, "third.yaml", nameYAML("third", "third", true)); err != nil {
			t.Fatal(err)
		}
		invoke(t, "third", "third", `{"n":3}`)
		eps := endpoints(t, cl.ContainerdAddress, "default/third/f")
		if len(eps) != 1 {
			t.Fatalf("sandboxes of third after its invocation: %v, want one", eps)
		}
		endpoint := eps[0]
		host, _, err := net.SplitHostPort(strings.TrimPrefix(endpoint, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		im := testenv.StartImpostor(t, bridge, net.ParseIP(host).To4(), 16, ctrd.Port)
		im.Claim(t)
		before := metricValue(t, cl.URL, cl.AdminToken, "baton_sandbox_identity_failures_total")
		for i := range 5 {
			invoke(t, "third", "third", fmt.Sprintf(`{"n":%d}`, 4+i))
		}
		if n := im.Posts.Load(); n != 0 {
			t.Errorf("the impostor at %s got %d requests", host, n)
		}
		if got := metricValue(t, cl.URL, cl.AdminToken, "baton_sandbox_identity_failures_total"); got <= before {
			t.Errorf("baton_sandbox_identity_failures_total = %v, want more than %v: the impostor was never met", got, before)
		}
		// Deleted in the background: wait for it.
		for deadline := time.Now().Add(10 * time.Second); slices.Contains(endpoints(t, cl.ContainerdAddress, "default/third/f"), endpoint); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the sandbox whose address the impostor holds (%s) was not deleted", endpoint)
			}
		}
	})
}

// endpoints lists the endpoints of function's sandboxes in containerd.
func endpoints(t *testing.T, address, function string) []string {
	t.Helper()
	c, err := containerd.New(address)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(context.Background(), "baton")
	list, err := c.ContainerService().List(ctx, `labels."baton.dev/function"==`+strconv.Quote(function))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ct := range list {
		if ep := ct.Labels["baton.dev/endpoint"]; ep != "" {
			out = append(out, ep)
		}
	}
	return out
}

// nextAddress is the address host-local hands out next: the one after
// the last it reserved.
func nextAddress(t *testing.T, ipamDir string) net.IP {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ipamDir, "last_reserved_ip.0"))
	if err != nil {
		t.Fatalf("last reserved address: %v", err)
	}
	ip := net.ParseIP(strings.TrimSpace(string(b))).To4()
	if ip == nil {
		t.Fatalf("last reserved address %q", b)
	}
	next := make(net.IP, 4)
	binary.BigEndian.PutUint32(next, binary.BigEndian.Uint32(ip)+1)
	return next
}

package containerd_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/vishvananda/netlink"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/containerd"
	"baton.dev/baton/worker/sandboxtest"
)

const reconcileSubnet = "10.179.6.0/24"

// TestOpenReconcilesAnEarlierIncarnation leaves what a crashed worker
// leaves — a sandbox whose task died, a network namespace of no
// container, an IPAM reservation of no sandbox, a foreign port on the
// bridge — next to a sandbox that still runs, and checks that Open keeps
// the running one and removes the rest.
func TestOpenReconcilesAnEarlierIncarnation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t, reconcileSubnet)
	first, err := containerd.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The second runtime's cleanup sweeps everything, even if a check
	// fails before it opens.
	defer func() {
		if first != nil {
			_ = first.Sweep(ctx)
			_ = first.RemoveNetwork(ctx)
			first.Close()
		}
	}()
	kept, err := first.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("kept"), Function: "t/w/kept", Image: sandboxtest.ImageOK})
	if err != nil {
		t.Fatal(err)
	}
	dead, err := first.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("dead"), Function: "t/w/dead", Image: sandboxtest.ImageOK})
	if err != nil {
		t.Fatal(err)
	}

	// The dead sandbox's process dies, as with its shim gone.
	client, err := ctrd.New(cfg.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nctx := namespaces.WithNamespace(ctx, "baton")
	c, err := client.LoadContainer(nctx, dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Task(nctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exited, err := task.Wait(nctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(nctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited

	// A namespace of no container.
	stray := filepath.Join(cfg.StateDir, "netns", "stray-ns")
	if err := os.WriteFile(stray, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unshare", "--net="+stray, "true").CombinedOutput(); err != nil {
		t.Fatalf("unshare: %v: %s", err, out)
	}
	// A reservation of no sandbox.
	reservation := filepath.Join(cfg.StateDir, "ipam", "baton", "10.179.6.200")
	if err := os.WriteFile(reservation, []byte("0badf00d-ghost\r\neth1"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A foreign port on the bridge.
	br, err := netlink.LinkByName(containerd.BridgeFor(reconcileSubnet))
	if err != nil {
		t.Fatal(err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "rcstray0", MasterIndex: br.Attrs().Index}, PeerName: "rcstray1"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	defer netlink.LinkDel(veth) //nolint:errcheck // gone already when the test passes

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	first = nil
	second := openWith(t, cfg)
	got := second.Reconciled()
	want := containerd.Reconciled{Kept: 1, Containers: 1, Namespaces: 1, Reservations: 1, Links: 1}
	if got != want {
		t.Errorf("Reconciled() = %+v, want %+v", got, want)
	}
	if _, ok := sandboxtest.Listed(t, second, dead.ID); ok {
		t.Errorf("the sandbox whose task died is still listed")
	}
	if _, ok := sandboxtest.Listed(t, second, kept.ID); !ok {
		t.Errorf("the running sandbox was not kept")
	}
	if status, body, err := sandboxtest.Post(ctx, kept.Endpoint, "still here"); err != nil || status != 200 || body != "still here" {
		t.Errorf("POST to the kept sandbox = %d %q, %v", status, body, err)
	}
	for _, path := range []string{stray, reservation} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s left (%v)", path, err)
		}
	}
	if _, err := netlink.LinkByName("rcstray0"); err == nil {
		t.Error("the foreign port rcstray0 is still on the bridge")
	}
}

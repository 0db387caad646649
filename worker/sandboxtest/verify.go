package sandboxtest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"testing"

	"baton.dev/baton/worker"
)

// testVerify checks Runtime.Verify: a connection dialled to a sandbox's
// endpoint is its own, not another sandbox's (where the two have different
// addresses), a connection that does not exist is nobody's, and an
// unknown or deleted sandbox is not found.
func testVerify(t *testing.T, rt worker.Runtime) {
	ctx := context.Background()
	a := Create(t, rt, worker.SandboxSpec{ID: NewID("verify-a"), Function: "t/w/a", Image: ImageOK})
	b := Create(t, rt, worker.SandboxSpec{ID: NewID("verify-b"), Function: "t/w/b", Image: ImageOK})
	c, conn := Dial(t, a.Endpoint)
	defer c.Close()
	if err := rt.Verify(ctx, a.ID, conn); err != nil {
		t.Fatalf("Verify(%s, %s), a connection to its own endpoint: %v", a.ID, conn, err)
	}
	if host(t, a.Endpoint) != host(t, b.Endpoint) {
		if err := rt.Verify(ctx, b.ID, conn); !errors.Is(err, worker.ErrIdentity) {
			t.Errorf("Verify(%s, %s), a connection to another sandbox: %v, want ErrIdentity", b.ID, conn, err)
		}
	}
	bogus := conn
	for _, port := range []uint16{conn.Client.Port() + 1, conn.Client.Port() - 1} {
		bogus.Client = netip.AddrPortFrom(conn.Client.Addr(), port)
		if err := rt.Verify(ctx, a.ID, bogus); !errors.Is(err, worker.ErrIdentity) {
			t.Errorf("Verify(%s, %s), a connection nobody made: %v, want ErrIdentity", a.ID, bogus, err)
		}
	}
	if err := rt.Verify(ctx, NewID("verify-none"), conn); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("Verify of an unknown sandbox: %v, want ErrNotFound", err)
	}
	if err := rt.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := rt.Verify(ctx, a.ID, conn); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("Verify of a deleted sandbox: %v, want ErrNotFound", err)
	}
}

// Dial opens a TCP connection to the sandbox at endpoint and returns it
// with its two ends, for Verify.
func Dial(t *testing.T, endpoint string) (net.Conn, worker.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", host(t, endpoint))
	if err != nil {
		t.Fatalf("dial %s: %v", endpoint, err)
	}
	conn, err := worker.ConnOf(c)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c, conn
}

func host(t *testing.T, endpoint string) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	return u.Host
}

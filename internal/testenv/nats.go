package testenv

import (
	"testing"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/natsd"
)

// NATS starts an embedded NATS server (JetStream on) for the test and
// returns a connection to it; both end with the test.
func NATS(t testing.TB) *nats.Conn {
	t.Helper()
	srv, err := natsd.Start(natsd.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

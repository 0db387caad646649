package testenv

import (
	"testing"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/internal/natsd"
)

// NATS starts an embedded NATS server with JetStream in a temporary
// directory and returns a connection to it; both end with the test.
func NATS(t testing.TB) *nats.Conn {
	t.Helper()
	s, err := natsd.Start(natsd.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect to NATS at %s: %v", s.ClientURL(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

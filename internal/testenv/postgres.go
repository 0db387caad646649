package testenv

import (
	"context"
	"os"
	"testing"

	"baton.dev/baton/internal/pgserver"
)

// Postgres starts a private Postgres server (initdb in a temp dir, its own
// port and socket) for the test and stops it at the end. The test may stop
// and restart it to play an outage.
func Postgres(t testing.TB) *pgserver.Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "pg-") // short: the socket path has a limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := pgserver.Start(context.Background(), pgserver.Config{Dir: dir})
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(context.Background()); err != nil {
			t.Errorf("stop postgres: %v", err)
		}
	})
	return srv
}

package pgserver

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestATakenPortIsRecognised starts a real server on a port another
// listener holds: the start fails, and the failure is recognised as a
// taken port (what makes Start try another when it chose the port).
func TestATakenPortIsRecognised(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	srv, err := Start(context.Background(), Config{Dir: t.TempDir(), Port: port})
	if err == nil {
		_ = srv.Stop(context.Background())
		t.Fatalf("started on port %d, which another listener holds", port)
	}
	if !portTaken(err) {
		t.Errorf("the failure is not recognised as a taken port: %v", err)
	}
}

// TestTailQuotesOneStart: a failed start quotes the log from where it
// began, so an earlier start's "Address already in use" is not taken for
// its own.
func TestTailQuotesOneStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "postgres.log")
	earlier := "FATAL: could not create any TCP/IP sockets\n"
	if err := os.WriteFile(path, []byte(earlier+"FATAL: data directory has wrong ownership\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := tail(path, int64(len(earlier)))
	if got != "FATAL: data directory has wrong ownership\n" {
		t.Errorf("tail from this start: %q", got)
	}
	if portTaken(errors.New(got)) {
		t.Error("an earlier start's taken port counted as this one's")
	}
}

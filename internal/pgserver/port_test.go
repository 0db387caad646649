package pgserver

import (
	"context"
	"net"
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

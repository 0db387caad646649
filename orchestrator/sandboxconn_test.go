package orchestrator

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPost calls a real HTTP server through post, keeping the connection
// from call to call as the Router does, and checks what is kept, what is
// dialled again and what each failure looks like.
func TestPost(t *testing.T) {
	var conns atomic.Int64
	hold := make(chan struct{}) // a "slow" call waits for the test's end
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch string(body) {
		case "close":
			w.Header().Set("Connection", "close")
		case "big":
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
			return
		case "500":
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		case "slow":
			<-hold
		case "chunked":
			w.(http.Flusher).Flush() // no length: chunked
		}
		if r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost || r.URL.Path != "/sb/x/" {
			http.Error(w, "bad request line or headers", http.StatusBadRequest)
			return
		}
		_, _ = w.Write(append([]byte("re "), body...))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hold) }) // before srv.Close, which waits for handlers
	ctx := context.Background()
	const limit = 64

	var conn *sandboxConn
	call := func(ctx context.Context, in string) (int, string, error) {
		status, body, c, err := post(ctx, conn, srv.URL+"/sb/x", []byte(in), limit, connCheck{})
		conn = c
		return status, string(body), err
	}
	tests := []struct {
		name       string
		in         string
		wantStatus int
		wantBody   string
		wantKept   bool
		wantConns  int64 // connections the server has seen after the call
	}{
		{"first call dials", "a", 200, "re a", true, 1},
		{"the next reuses the connection", "b", 200, "re b", true, 1},
		{"a chunked answer", "chunked", 200, "re chunked", true, 1},
		{"an error status keeps the connection", "500", 500, "boom\n", true, 1},
		{"Connection: close is obeyed", "close", 200, "re close", false, 1},
		{"then a new connection", "c", 200, "re c", true, 2},
		{"an answer over the limit: limit+1 bytes, not kept", "big", 200, strings.Repeat("x", limit+1), false, 2},
	}
	for _, tt := range tests {
		status, body, err := call(ctx, tt.in)
		if err != nil || status != tt.wantStatus || body != tt.wantBody || (conn != nil) != tt.wantKept || conns.Load() != tt.wantConns {
			t.Fatalf("%s: status %d body %q err %v kept %v conns %d; want %d %q nil %v %d",
				tt.name, status, body, err, conn != nil, conns.Load(), tt.wantStatus, tt.wantBody, tt.wantKept, tt.wantConns)
		}
	}

	// The server closes idle connections: the next call notices before
	// sending and dials again.
	if _, _, err := call(ctx, "d"); err != nil || conn == nil {
		t.Fatalf("call before closing idle connections: %v", err)
	}
	srv.CloseClientConnections()
	for deadline := time.Now().Add(5 * time.Second); conn.open(); { // until the FIN arrives
		if time.Now().After(deadline) {
			t.Fatal("the server's close never reached the kept connection")
		}
		time.Sleep(time.Millisecond)
	}
	before := conns.Load()
	if status, body, err := call(ctx, "e"); err != nil || status != 200 || body != "re e" || conns.Load() != before+1 {
		t.Fatalf("after the server closed the idle connection: %d %q %v, %d new connections", status, body, err, conns.Load()-before)
	}

	// A context that ends mid-call ends it (the server would answer only
	// at the test's end), with the context's error, and the connection
	// is not kept.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, _, err := call(short, "slow"); !errors.Is(err, context.DeadlineExceeded) || conn != nil {
		t.Fatalf("slow call: err %v, kept %v; want the deadline, not kept", err, conn != nil)
	}

	// Nothing listening: a dial error, which the Router may retry.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	if _, _, c, err := post(ctx, nil, dead, []byte("x"), limit, connCheck{}); !isDialError(err) || c != nil {
		t.Fatalf("closed port: %v, want a dial error", err)
	}
}

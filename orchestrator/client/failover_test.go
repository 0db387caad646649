package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestFailsOverToTheNextReplica: with several replicas' URLs, a request
// that cannot connect to the first goes to the next, and later requests
// start from the one that answered; one whose connection broke after it
// was sent is not sent again (it may have run).
func TestFailsOverToTheNextReplica(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	var served atomic.Int32
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"workers": []}`))
	}))
	defer live.Close()
	var cut atomic.Int32
	breaks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cut.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer breaks.Close()

	var deadDials atomic.Int32 // tries to connect to the dead replica
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if "http://"+addr == dead {
			deadDials.Add(1)
		}
		return dialer.DialContext(ctx, network, addr)
	}}}
	c := &Client{URL: dead + ", " + live.URL + "/", HTTP: hc}
	for range 3 {
		if _, err := c.Workers(context.Background()); err != nil {
			t.Fatalf("with the first replica down: %v", err)
		}
	}
	if served.Load() != 3 || deadDials.Load() != 1 {
		t.Errorf("three requests: the live replica served %d, the dead one was dialled %d times; want 3 and 1 (the next requests start from the replica that answered)", served.Load(), deadDials.Load())
	}
	served.Store(1)
	c = &Client{URL: breaks.URL + "," + live.URL}
	if _, err := c.Workers(context.Background()); err == nil {
		t.Fatal("a request whose connection broke after it was sent succeeded: it was sent again")
	}
	if served.Load() != 1 || cut.Load() != 1 {
		t.Errorf("after a broken connection: live served %d, broken saw %d; want 1 and 1 (no second send)", served.Load(), cut.Load())
	}
	c = &Client{URL: dead}
	if _, err := c.Workers(context.Background()); err == nil {
		t.Fatal("no replica up, yet the request succeeded")
	}
}

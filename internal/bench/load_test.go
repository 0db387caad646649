package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPacedEndsWithItsContext: a paced load whose next request is far
// off returns as soon as its context ends, not when that request is due.
func TestPacedEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	var sent atomic.Int64
	do := func(context.Context) (bool, error) { sent.Add(1); return false, nil }
	start := time.Now()
	// One request every 10 s for an hour: the first is sent at once.
	res := paced(ctx, 0.1, time.Hour, time.Minute, do)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("paced returned %v after its context ended", took)
	}
	if sent.Load() != 1 || res[0].Requests != 1 || res[0].Errors != 0 {
		t.Errorf("sent %d, result %+v; want the one request due at once", sent.Load(), res[0])
	}
}

// TestPacedAlternatesInBlocks: each path gets its share of the requests,
// counted on its own result.
func TestPacedAlternatesInBlocks(t *testing.T) {
	var a, b atomic.Int64
	res := paced(t.Context(), 1000, 40*time.Millisecond, 10*time.Millisecond,
		func(context.Context) (bool, error) { a.Add(1); return true, nil },
		func(context.Context) (bool, error) { b.Add(1); return false, nil })
	if a.Load() != 40 || b.Load() != 40 {
		t.Errorf("requests: %d and %d, want 40 each", a.Load(), b.Load())
	}
	if res[0].Requests != 40 || res[0].ColdStarts != 40 || res[1].Requests != 40 || res[1].ColdStarts != 0 {
		t.Errorf("results: %+v, %+v", res[0], res[1])
	}
}

// TestBareProxySpreadsOverTheEndpoints: the bare proxy sends each request
// to the next endpoint in turn, and stops serving when stopped.
func TestBareProxySpreadsOverTheEndpoints(t *testing.T) {
	var hits [2]atomic.Int64
	var endpoints []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			_, _ = io.Copy(w, r.Body)
		}))
		t.Cleanup(srv.Close)
		endpoints = append(endpoints, srv.URL)
	}
	proxyURL, stop, err := startBareProxy(endpoints)
	if err != nil {
		t.Fatal(err)
	}
	post := directPoster(newHTTPClient(), []string{proxyURL}, []byte(`{}`))
	for range 4 {
		if _, err := post(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if hits[0].Load() != 2 || hits[1].Load() != 2 {
		t.Errorf("endpoint hits %d and %d, want 2 each", hits[0].Load(), hits[1].Load())
	}
	stop()
	if _, err := post(t.Context()); err == nil {
		t.Error("the stopped proxy still answered")
	}
}

// TestStartBareProxyRefusesABadEndpoint names the endpoint it cannot parse.
func TestStartBareProxyRefusesABadEndpoint(t *testing.T) {
	if _, _, err := startBareProxy([]string{"http://[::1"}); err == nil || !strings.Contains(err.Error(), `bare proxy: endpoint "http://[::1"`) {
		t.Errorf("error %v", err)
	}
}

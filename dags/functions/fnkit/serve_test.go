package fnkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// echo returns its input, or fails as the input asks.
func echo(_ context.Context, input []byte) ([]byte, error) {
	switch string(input) {
	case "bad":
		return nil, fmt.Errorf("%w: field x must be positive", ErrBadInput)
	case "broken":
		return nil, errors.New("disk on fire")
	case "panic":
		panic("handler bug")
	}
	return input, nil
}

func TestHTTPHandler(t *testing.T) {
	srv := httptest.NewServer(NewHTTPHandler(echo))
	defer srv.Close()
	tests := []struct {
		name       string
		method     string
		path       string
		body       []byte
		wantStatus int
		wantBody   string // exact body, or for errors a substring of the JSON "error"
		wantType   string
	}{
		{"health", http.MethodGet, "/healthz", nil, 200, "ok\n", "text/plain; charset=utf-8"},
		{"json output", http.MethodPost, "/", []byte(`{"a":1}`), 200, `{"a":1}`, "application/json"},
		{"binary output", http.MethodPost, "/", []byte{0xff, 0x00}, 200, "\xff\x00", "application/octet-stream"},
		{"empty body", http.MethodPost, "/", nil, 200, "", "application/octet-stream"},
		{"bad input", http.MethodPost, "/", []byte("bad"), 400, "field x must be positive", "application/json"},
		{"handler error", http.MethodPost, "/", []byte("broken"), 500, "disk on fire", "application/json"},
		{"handler panic", http.MethodPost, "/", []byte("panic"), 500, "handler bug", "application/json"},
		{"too large", http.MethodPost, "/", bytes.Repeat([]byte("x"), MaxBodyBytes+1), 413, "exceeds", "application/json"},
		{"wrong method", http.MethodGet, "/", nil, 405, "", ""},
		{"unknown path", http.MethodPost, "/other", nil, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.wantType)
			}
			switch {
			case tt.wantStatus == 200:
				if string(body) != tt.wantBody {
					t.Errorf("body %q, want %q", body, tt.wantBody)
				}
			case tt.wantBody != "":
				var e struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("error body %q is not JSON: %v", body, err)
				}
				if !strings.Contains(e.Error, tt.wantBody) {
					t.Errorf("error %q does not mention %q", e.Error, tt.wantBody)
				}
			}
		})
	}
}

func TestServeListenerFinishesInFlightRequestOnShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	slow := func(_ context.Context, input []byte) ([]byte, error) {
		close(started)
		<-release
		return input, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, ln, slow) }()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/", "text/plain", strings.NewReader("done"))
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-started
	cancel() // shutdown begins while the request is in flight
	close(release)
	r := <-got
	if r.err != nil || r.status != 200 || r.body != "done" {
		t.Errorf("in-flight request got %d %q %v, want 200 \"done\"", r.status, r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("ServeListener returned %v after shutdown, want nil", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestServeListenerReportsListenerFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ServeListener(context.Background(), ln, echo); err == nil {
		t.Error("ServeListener on a closed listener returned nil, want an error")
	}
}

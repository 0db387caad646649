package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestDataPlaneClient runs the --client-process child's command on a small
// load against real HTTP servers standing in for Baton's API and the
// sandboxes, and checks that every path was measured and reached.
func TestDataPlaneClient(t *testing.T) {
	var invokes, posts atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/workflows/wf/invoke" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unexpected "+r.URL.Path, http.StatusNotFound)
			return
		}
		invokes.Add(1)
		_, _ = io.Copy(w, r.Body)
	}))
	defer api.Close()
	sandbox := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		_, _ = io.Copy(w, r.Body)
	}))
	defer sandbox.Close()

	load := dataPlaneLoad{
		BatonURL: api.URL, Token: "tok", Workflow: "wf", Endpoints: []string{sandbox.URL}, ProxyURL: sandbox.URL,
		Rate: 300, Seconds: 100 * time.Millisecond, Block: 10 * time.Millisecond,
		SaturationSeconds: 50 * time.Millisecond, Concurrency: 2,
	}
	in, err := json.Marshal(load)
	if err != nil {
		t.Fatal(err)
	}
	cmd := benchDataPlaneClientCmd()
	var out bytes.Buffer
	cmd.SetIn(bytes.NewReader(in))
	cmd.SetOut(&out)
	cmd.SetArgs(nil)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var res dataPlaneLoadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("decode %q: %v", out.String(), err)
	}
	for name, r := range map[string]loadResult{
		"paced direct": res.PacedDirect, "paced baton": res.PacedBaton, "paced proxy": res.PacedProxy,
		"saturated direct": res.SaturatedDirect, "saturated baton": res.SaturatedBaton,
	} {
		if r.Requests == 0 || r.Errors != 0 || r.Latency.P50Ms <= 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if want := int64(res.PacedBaton.Requests + res.SaturatedBaton.Requests); invokes.Load() < want {
		t.Errorf("the API saw %d invocations, fewer than the %d measured", invokes.Load(), want)
	}
	if posts.Load() == 0 {
		t.Error("no request reached the sandbox")
	}
}

// TestDataPlaneClientRefusesBadLoad: a load the child cannot run is
// refused with the field's name.
func TestDataPlaneClientRefusesBadLoad(t *testing.T) {
	good := `"batonUrl":"http://x","token":"t","workflow":"w","endpoints":["http://y"],"proxyUrl":"http://z"`
	for _, tt := range []struct{ in, wantErr string }{
		{``, "decode the load on stdin"},
		{`{"rate": "fast"}`, "decode the load on stdin"},
		{`{"bogus": 1}`, `unknown field "bogus"`},
		{`{` + good + `}`, "rate, seconds, block, saturationSeconds and concurrency must be positive"},
		{`{"rate":1,"seconds":1,"block":1,"saturationSeconds":1,"concurrency":1}`, "batonUrl, workflow, endpoints and proxyUrl are required"},
	} {
		cmd := benchDataPlaneClientCmd()
		cmd.SetIn(strings.NewReader(tt.in))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(nil)
		if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

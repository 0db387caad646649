package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeDataPlaneLoad runs the --client-process child's side on a
// small load against real HTTP servers standing in for Baton's API and
// the sandboxes, and checks that every path was measured and reached.
func TestServeDataPlaneLoad(t *testing.T) {
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

	load := DataPlaneLoad{
		BatonURL: api.URL, Token: "tok", Workflow: "wf", Endpoints: []string{sandbox.URL}, ProxyURL: sandbox.URL,
		Rate: 300, Seconds: 100 * time.Millisecond, Block: 10 * time.Millisecond,
		SaturationSeconds: 50 * time.Millisecond, Concurrency: 2,
	}
	in, err := json.Marshal(load)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ServeDataPlaneLoad(t.Context(), bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	var res DataPlaneLoadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("decode %q: %v", out.String(), err)
	}
	for name, r := range map[string]LoadResult{
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

// TestServeDataPlaneLoadRefusesBadLoad: a load the child cannot run is
// refused with the field's name.
func TestServeDataPlaneLoadRefusesBadLoad(t *testing.T) {
	good := `"batonUrl":"http://x","token":"t","workflow":"w","endpoints":["http://y"],"proxyUrl":"http://z"`
	for _, tt := range []struct{ in, wantErr string }{
		{``, "decode the load on stdin"},
		{`{"rate": "fast"}`, "decode the load on stdin"},
		{`{"bogus": 1}`, `unknown field "bogus"`},
		{`{` + good + `}`, "load on stdin: rate, seconds, block, saturationSeconds and concurrency must be positive"},
		{`{"rate":1,"seconds":1,"block":1,"saturationSeconds":1,"concurrency":1}`, "load on stdin: batonUrl, workflow, endpoints and proxyUrl are required"},
	} {
		if err := ServeDataPlaneLoad(t.Context(), strings.NewReader(tt.in), io.Discard); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
)

// runDataPlaneClient runs `baton bench dataplane-client` as the parent of
// --client-process does (dataPlaneClientArgs), with stdin as its input.
func runDataPlaneClient(t *testing.T, stdin string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "baton", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(benchCmd())
	var out bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs(dataPlaneClientArgs)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestDataPlaneClientCmd: the arguments the parent passes reach the
// hidden child command, which reads its load on stdin and writes what it
// measured on stdout, and refuses a load it cannot run.
func TestDataPlaneClientCmd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	}))
	defer srv.Close()
	in, err := json.Marshal(bench.DataPlaneLoad{
		BatonURL: srv.URL, Token: "tok", Workflow: "wf", Endpoints: []string{srv.URL}, ProxyURL: srv.URL,
		Rate: 200, Seconds: 20 * time.Millisecond, Block: 10 * time.Millisecond,
		SaturationSeconds: 10 * time.Millisecond, Concurrency: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := runDataPlaneClient(t, string(in))
	if err != nil {
		t.Fatal(err)
	}
	var res bench.DataPlaneLoadResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if res.PacedDirect.Requests == 0 || res.SaturatedBaton.Requests == 0 {
		t.Errorf("nothing measured: %+v", res)
	}
	if _, err := runDataPlaneClient(t, `{"bogus": 1}`); err == nil || !strings.Contains(err.Error(), `decode the load on stdin: json: unknown field "bogus"`) {
		t.Errorf("bad load: error %v", err)
	}
}

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/workflow"
)

// recorded is one request as a fake API server (named as a fake: the real
// orchestrator answers these in internal/standalone's end-to-end tests)
// received it.
type recorded struct {
	method, uri, auth, body string
}

// fakeAPI answers every request with the status, headers and body the
// test sets, and records what it was asked.
type fakeAPI struct {
	mu      sync.Mutex
	got     []recorded
	status  int
	headers map[string]string
	body    string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, recorded{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), string(b)})
	for k, v := range f.headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
}

func (f *fakeAPI) last(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		t.Fatal("the server got no request")
	}
	return f.got[len(f.got)-1]
}

func newFake(t *testing.T, status int, body string) (*fakeAPI, *Client) {
	f := &fakeAPI{status: status, body: body}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &Client{URL: srv.URL + "/", Token: "k1"}
}

// TestRequests checks each call's method, path (escaped), query, body and
// key, and that its answer is decoded.
func TestRequests(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		answer     string
		call       func(c *Client) (any, error)
		method     string
		uri        string
		body       string
		wantResult string // a fragment of the decoded result, as %+v
	}{
		{"deploy", `{"name":"w","revision":3}`, func(c *Client) (any, error) { return c.Deploy(ctx, "w.yaml", []byte("kind: Workflow")) },
			"POST", "/v1/workflows?filename=w.yaml", "kind: Workflow", "Revision:3"},
		{"list", `{"workflows":[{"name":"a"},{"name":"b"}]}`, func(c *Client) (any, error) { return c.Workflows(ctx) },
			"GET", "/v1/workflows", "", "Name:b"},
		{"a name is escaped", `{"name":"a b"}`, func(c *Client) (any, error) { return c.Workflow(ctx, "a b/../x") },
			"GET", "/v1/workflows/a%20b%2F..%2Fx", "", "Name:a b"},
		{"async invoke", `{"invocationId":"inv-1"}`, func(c *Client) (any, error) { return c.InvokeAsync(ctx, "w", []byte(`{"n":1}`)) },
			"POST", "/v1/workflows/w/invoke?mode=async", `{"n":1}`, "inv-1"},
		{"invocations of one workflow", `{"invocations":[{"id":"i1","status":"succeeded","output":{"x":1}}]}`,
			func(c *Client) (any, error) { return c.Invocations(ctx, "w&x", 5) },
			"GET", "/v1/invocations?limit=5&workflow=w%26x", "", `Output:[123 34 120 34 58 49 125]`},
		{"reports", `{"history":"on","workflows":[{"name":"w","figures":{"latencyMs":{"p50":3,"p99":null}}}]}`,
			func(c *Client) (any, error) {
				r, err := c.Reports(ctx, "w", "24h")
				if err != nil {
					return nil, err
				}
				return r.Workflows[0].Figures.LatencyMs, nil
			},
			"GET", "/v1/reports?since=24h&workflow=w", "", "P50:3 P95:0 P99:+Inf"},
		{"create a tenant", `{"name":"t","key":"secret"}`, func(c *Client) (any, error) { return c.CreateTenant(ctx, "t") },
			"POST", "/v1/tenants", `{"name":"t"}`, "Key:secret"},
		{"undrain", `{}`, func(c *Client) (any, error) { return nil, c.Drain(ctx, "w-1", false) },
			"POST", "/v1/workers/w-1/undrain", "", ""},
		{"choose", `{"workflow":"w"}`, func(c *Client) (any, error) {
			return c.Choose(ctx, "w", api.Choice{Functions: map[string]api.Resources{"f": {CPUMilli: 500}}, Policy: "manual"})
		}, "PUT", "/v1/workflows/w/configuration", `"functions":{"f":{"cpuMilli":500,"memoryBytes":0}}`, "Workflow:w"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newFake(t, http.StatusOK, tc.answer)
			res, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			got := f.last(t)
			if got.method != tc.method || got.uri != tc.uri {
				t.Errorf("request %s %s, want %s %s", got.method, got.uri, tc.method, tc.uri)
			}
			if got.auth != "Bearer k1" {
				t.Errorf("Authorization %q, want the bearer key", got.auth)
			}
			if !strings.Contains(got.body, tc.body) {
				t.Errorf("body %q, want it to contain %q", got.body, tc.body)
			}
			if s := fmt.Sprintf("%+v", res); !strings.Contains(s, tc.wantResult) {
				t.Errorf("result %s, want it to contain %q", s, tc.wantResult)
			}
		})
	}
}

// TestInvokeReadsTheHeaders checks the synchronous answer's figures come
// from its headers, and that missing ones read as zero.
func TestInvokeReadsTheHeaders(t *testing.T) {
	f, c := newFake(t, http.StatusOK, `{"out":1}`)
	f.headers = map[string]string{"Baton-Invocation-Id": "i9", "Baton-Cold-Starts": "2", "Baton-Cost": "0.0005",
		"Server-Timing": "total;dur=12.5, stage-a;dur=3"}
	r, err := c.Invoke(context.Background(), "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.InvocationID != "i9" || r.ColdStarts != 2 || r.CostUSD != 0.0005 || r.LatencyMs != 12.5 || string(r.Output) != `{"out":1}` {
		t.Errorf("result %+v", r)
	}
	f.headers = nil
	if r, err = c.Invoke(context.Background(), "w", nil); err != nil || r.ColdStarts != 0 || r.LatencyMs != 0 {
		t.Errorf("without headers: %+v, %v", r, err)
	}
}

// TestErrors checks that an answer other than success becomes an *Error
// with the server's message, its problems at their lines, and the failed
// invocation; a body that is not the API's error keeps its text.
func TestErrors(t *testing.T) {
	body, err := json.Marshal(api.ErrorBody{Error: "2 problems", InvocationID: "i3",
		Problems: workflow.Problems{{File: "w.yaml", Line: 4, Col: 7, Field: "spec.stages[0].needs", Msg: "unknown stage"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, c := newFake(t, http.StatusBadRequest, string(body))
	_, err = c.Deploy(context.Background(), "w.yaml", []byte("x"))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if ce.Status != 400 || ce.Message != "2 problems" || ce.InvocationID != "i3" || len(ce.Problems) != 1 {
		t.Fatalf("error %+v", ce)
	}
	if p := ce.Problems[0]; p.Line != 4 || p.Col != 7 || p.Field != "spec.stages[0].needs" || p.Msg != "unknown stage" {
		t.Errorf("problem %+v", p)
	}
	if !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("message %q does not give the status", err)
	}

	_, c = newFake(t, http.StatusBadGateway, "upstream went away\n")
	err = c.DeleteWorkflow(context.Background(), "w")
	if !errors.As(err, &ce) || ce.Status != 502 || ce.Message != "upstream went away" {
		t.Errorf("plain-text error = %#v", err)
	}

	_, c = newFake(t, http.StatusOK, `{"workflows": [`)
	if _, err := c.Workflows(context.Background()); err == nil || !strings.Contains(err.Error(), "decode answer") {
		t.Errorf("a truncated answer gave %v, want a decode error", err)
	}
	c = &Client{URL: "http://127.0.0.1:1"}
	if _, err := c.Workflows(context.Background()); err == nil || !strings.Contains(err.Error(), "GET /v1/workflows") {
		t.Errorf("an unreachable server gave %v, want an error naming the request", err)
	}
}

// TestConfig checks where the config lives, that it is private, and that
// the environment overrides it.
func TestConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.json")
	t.Setenv("BATON_CONFIG", path)
	for _, k := range []string{"BATON_URL", "BATON_TOKEN", "BATON_ADMIN_TOKEN"} {
		t.Setenv(k, "")
	}
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "baton up") {
		t.Fatalf("no config: %v, want advice to run baton up", err)
	}
	got, err := SaveConfig(Config{URL: "http://a", Token: "t1", AdminToken: "adm"})
	if err != nil || got != path {
		t.Fatalf("save: %s, %v", got, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v, %v; want 0600", st.Mode(), err)
	}
	c, err := LoadConfig()
	if err != nil || c != (Config{URL: "http://a", Token: "t1", AdminToken: "adm"}) {
		t.Fatalf("load: %+v, %v", c, err)
	}
	t.Setenv("BATON_URL", "http://b")
	t.Setenv("BATON_TOKEN", "t2")
	if c, err = LoadConfig(); err != nil || c.URL != "http://b" || c.Token != "t2" || c.AdminToken != "adm" {
		t.Fatalf("with the environment: %+v, %v", c, err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a broken config gave %v, want an error naming the file", err)
	}
}

// Package client is the Go client of Baton's HTTP API, used by the CLI and
// the end-to-end tests. It also reads and writes the CLI's config file.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/workflow"
)

// Client calls one Baton API as one tenant.
type Client struct {
	// URL is the API's, e.g. http://127.0.0.1:8080, or several
	// orchestrator replicas' separated by commas: a request that cannot
	// connect to one (nothing was sent) goes to the next, and the next
	// request starts from the replica that answered.
	URL   string
	Token string
	HTTP  *http.Client

	replicas atomic.Pointer[replicas] // URL parsed, and which answered last
}

// replicas is a Client's URL as a list, and the one to try first.
type replicas struct {
	url       string
	urls      []string
	preferred atomic.Int32
}

// replicaList returns the replicas' base URLs, parsed once per URL.
func (c *Client) replicaList() *replicas {
	if r := c.replicas.Load(); r != nil && r.url == c.URL {
		return r
	}
	r := &replicas{url: c.URL}
	for _, u := range strings.Split(c.URL, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			r.urls = append(r.urls, u)
		}
	}
	if len(r.urls) == 0 {
		r.urls = []string{""}
	}
	c.replicas.Store(r)
	return r
}

// NotSent reports whether err means the request never reached the
// server (it could not connect), so another replica may take it.
func NotSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Error is an answer other than success; Message is the server's own.
type Error struct {
	Status   int
	Message  string
	Problems workflow.Problems
	// InvocationID is set when an invocation failed.
	InvocationID string
	// RetryAfter is when to try again, for a refusal that says (429 over
	// a quota, 503): the answer's Retry-After.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

func (c *Client) do(ctx context.Context, method, path string, body []byte, header http.Header) (*http.Response, []byte, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	var resp *http.Response
	reps := c.replicaList()
	urls, first := reps.urls, int(reps.preferred.Load())
	for n := range urls {
		i := (first + n) % len(urls)
		base := urls[i]
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			return nil, nil, fmt.Errorf("build request: %w", err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if c.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		resp, err = hc.Do(req)
		if err == nil {
			reps.preferred.Store(int32(i))
			break
		}
		if !NotSent(err) || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		if n == len(urls)-1 {
			return nil, nil, fmt.Errorf("%s %s: no replica answered: %w", method, path, err)
		}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		var body api.ErrorBody
		if json.Unmarshal(data, &body) == nil && body.Error != "" {
			e.Message, e.Problems, e.InvocationID = body.Error, body.Problems, body.InvocationID
		}
		return resp, data, e
	}
	return resp, data, nil
}

func (c *Client) getJSON(ctx context.Context, method, path string, body []byte, out any) error {
	_, data, err := c.do(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Deploy sends a workflow document; filename is used in error messages.
func (c *Client) Deploy(ctx context.Context, filename string, source []byte) (*api.WorkflowSummary, error) {
	var s api.WorkflowSummary
	return &s, c.getJSON(ctx, http.MethodPost, "/v1/workflows?filename="+url.QueryEscape(filename), source, &s)
}

// Workflows lists the tenant's workflows.
func (c *Client) Workflows(ctx context.Context) ([]api.WorkflowSummary, error) {
	var out struct {
		Workflows []api.WorkflowSummary `json:"workflows"`
	}
	return out.Workflows, c.getJSON(ctx, http.MethodGet, "/v1/workflows", nil, &out)
}

// Workflow returns one workflow with its source.
func (c *Client) Workflow(ctx context.Context, name string) (*api.WorkflowSummary, error) {
	var s api.WorkflowSummary
	return &s, c.getJSON(ctx, http.MethodGet, "/v1/workflows/"+url.PathEscape(name), nil, &s)
}

// DeleteWorkflow removes a workflow.
func (c *Client) DeleteWorkflow(ctx context.Context, name string) error {
	return c.getJSON(ctx, http.MethodDelete, "/v1/workflows/"+url.PathEscape(name), nil, nil)
}

// InvokeResult is a synchronous invocation's answer.
type InvokeResult struct {
	InvocationID string
	Output       []byte
	ColdStarts   int
	ServerTiming string
	// LatencyMs is the orchestrator's end-to-end time (Server-Timing
	// total); CostUSD the stages' execution cost (Baton-Cost).
	LatencyMs float64
	CostUSD   float64
}

// Invoke runs a workflow and waits for its output. A failed invocation is
// an *Error whose message names the failed stage.
func (c *Client) Invoke(ctx context.Context, name string, input []byte) (*InvokeResult, error) {
	resp, data, err := c.do(ctx, http.MethodPost, "/v1/workflows/"+url.PathEscape(name)+"/invoke", input, nil)
	if err != nil {
		return nil, err
	}
	cold, _ := strconv.Atoi(resp.Header.Get("Baton-Cold-Starts")) // absent means 0
	cost, _ := strconv.ParseFloat(resp.Header.Get("Baton-Cost"), 64)
	timing := resp.Header.Get("Server-Timing")
	return &InvokeResult{
		InvocationID: resp.Header.Get("Baton-Invocation-Id"),
		Output:       data,
		ColdStarts:   cold,
		ServerTiming: timing,
		LatencyMs:    totalMs(timing),
		CostUSD:      cost,
	}, nil
}

// totalMs reads "total;dur=N" from a Server-Timing header (0 if absent).
func totalMs(timing string) float64 {
	first, _, _ := strings.Cut(timing, ",")
	name, dur, ok := strings.Cut(strings.TrimSpace(first), ";dur=")
	if !ok || name != "total" {
		return 0
	}
	v, _ := strconv.ParseFloat(dur, 64)
	return v
}

// InvokeAsync starts an invocation and returns its ID at once.
func (c *Client) InvokeAsync(ctx context.Context, name string, input []byte) (string, error) {
	var out struct {
		InvocationID string `json:"invocationId"`
	}
	return out.InvocationID, c.getJSON(ctx, http.MethodPost, "/v1/workflows/"+url.PathEscape(name)+"/invoke?mode=async", input, &out)
}

// Invocation returns one invocation's record with its stage timeline.
func (c *Client) Invocation(ctx context.Context, id string) (*api.Invocation, error) {
	var inv api.Invocation
	return &inv, c.getJSON(ctx, http.MethodGet, "/v1/invocations/"+url.PathEscape(id), nil, &inv)
}

// Invocations lists the latest invocations, of one workflow or all.
func (c *Client) Invocations(ctx context.Context, workflow string, limit int) ([]api.Invocation, error) {
	q := url.Values{}
	if workflow != "" {
		q.Set("workflow", workflow)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Invocations []api.Invocation `json:"invocations"`
	}
	return out.Invocations, c.getJSON(ctx, http.MethodGet, "/v1/invocations?"+q.Encode(), nil, &out)
}

// Reports returns the QoS and cost reports of one workflow or all over a
// window: since is a duration back from now ("24h") or an RFC 3339 time.
func (c *Client) Reports(ctx context.Context, workflow, since string) (*api.ReportResponse, error) {
	q := url.Values{}
	if workflow != "" {
		q.Set("workflow", workflow)
	}
	if since != "" {
		q.Set("since", since)
	}
	var out api.ReportResponse
	return &out, c.getJSON(ctx, http.MethodGet, "/v1/reports?"+q.Encode(), nil, &out)
}

// Series returns one workflow's figures over a window in time buckets:
// since as for Reports, step a duration ("5m"; "" lets the server choose).
func (c *Client) Series(ctx context.Context, workflow, since, step string) (*api.Series, error) {
	q := url.Values{"workflow": {workflow}}
	if since != "" {
		q.Set("since", since)
	}
	if step != "" {
		q.Set("step", step)
	}
	var out api.Series
	return &out, c.getJSON(ctx, http.MethodGet, "/v1/reports/series?"+q.Encode(), nil, &out)
}

// CreateTenant creates a tenant; the answer carries its API key, shown
// this once. It needs the admin key.
func (c *Client) CreateTenant(ctx context.Context, name string) (*api.TenantView, error) {
	body, err := json.Marshal(map[string]string{"name": name})
	if err != nil {
		return nil, err
	}
	var out api.TenantView
	return &out, c.getJSON(ctx, http.MethodPost, "/v1/tenants", body, &out)
}

// Tenants lists the tenants. It needs the admin key.
func (c *Client) Tenants(ctx context.Context) ([]api.TenantView, error) {
	var out struct {
		Tenants []api.TenantView `json:"tenants"`
	}
	return out.Tenants, c.getJSON(ctx, http.MethodGet, "/v1/tenants", nil, &out)
}

// RotateTenantKey issues a new API key for a tenant and revokes all its
// previous keys at once; the answer carries the new key, shown this once.
// It needs the admin key.
func (c *Client) RotateTenantKey(ctx context.Context, name string) (*api.TenantView, error) {
	var out api.TenantView
	return &out, c.getJSON(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+"/keys", nil, &out)
}

// RevokeTenantKeys revokes every API key of a tenant at once; its
// workflows and history stay. It needs the admin key.
func (c *Client) RevokeTenantKeys(ctx context.Context, name string) error {
	return c.getJSON(ctx, http.MethodDelete, "/v1/tenants/"+url.PathEscape(name)+"/keys", nil, nil)
}

// SetTenantQuota sets a tenant's quota, whole (a zero bound is none). It
// needs the admin key.
func (c *Client) SetTenantQuota(ctx context.Context, name string, q api.Quota) (*api.TenantView, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	var out api.TenantView
	return &out, c.getJSON(ctx, http.MethodPut, "/v1/tenants/"+url.PathEscape(name)+"/quota", body, &out)
}

// Health returns how many live workers the orchestrator at url counts
// (GET /healthz needs no key).
func Health(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct {
		Workers int `json:"workers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return 0, fmt.Errorf("decode /healthz: %w", err)
	}
	return h.Workers, nil
}

// Workers lists the workers the orchestrator has heard from. It needs the
// admin key.
func (c *Client) Workers(ctx context.Context) ([]api.WorkerView, error) {
	var out struct {
		Workers []api.WorkerView `json:"workers"`
	}
	return out.Workers, c.getJSON(ctx, http.MethodGet, "/v1/workers", nil, &out)
}

// Cluster is who leads the orchestrator replicas, as the replica that
// answers sees it. It needs the admin key.
func (c *Client) Cluster(ctx context.Context) (api.ClusterView, error) {
	var out api.ClusterView
	return out, c.getJSON(ctx, http.MethodGet, "/v1/cluster", nil, &out)
}

// Drain stops (drain true) or resumes placing sandboxes on a worker. It
// needs the admin key.
func (c *Client) Drain(ctx context.Context, id string, drain bool) error {
	verb := "drain"
	if !drain {
		verb = "undrain"
	}
	return c.getJSON(ctx, http.MethodPost, "/v1/workers/"+url.PathEscape(id)+"/"+verb, nil, nil)
}

// Configuration returns a workflow's resources now and the scheduler's
// choice, if any.
func (c *Client) Configuration(ctx context.Context, name string) (*api.ConfigurationView, error) {
	var out api.ConfigurationView
	return &out, c.getJSON(ctx, http.MethodGet, "/v1/workflows/"+url.PathEscape(name)+"/configuration", nil, &out)
}

// Choose applies a configuration for a workflow's auto resources.
func (c *Client) Choose(ctx context.Context, name string, choice api.Choice) (*api.ConfigurationView, error) {
	body, err := json.Marshal(choice)
	if err != nil {
		return nil, err
	}
	var out api.ConfigurationView
	return &out, c.getJSON(ctx, http.MethodPut, "/v1/workflows/"+url.PathEscape(name)+"/configuration", body, &out)
}

// Configurations reads a workflow's configuration history, newest
// first: window bounds the invocations compared before and after each
// change (a duration; empty for the server's default, 1h), limit how many
// changes (0 for the default, 50).
func (c *Client) Configurations(ctx context.Context, name, window string, limit int) (*api.ConfigurationHistory, error) {
	q := url.Values{}
	if window != "" {
		q.Set("window", window)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out api.ConfigurationHistory
	return &out, c.getJSON(ctx, http.MethodGet, "/v1/workflows/"+url.PathEscape(name)+"/configurations?"+q.Encode(), nil, &out)
}

// Sample records a tuner's measurement of a configuration in history.
func (c *Client) Sample(ctx context.Context, name string, s api.SampleRequest) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return c.getJSON(ctx, http.MethodPost, "/v1/workflows/"+url.PathEscape(name)+"/samples", body, nil)
}

// Registries lists the tenant's registry logins (never their passwords).
func (c *Client) Registries(ctx context.Context) ([]api.RegistryLoginView, error) {
	var out struct {
		Registries []api.RegistryLoginView `json:"registries"`
	}
	return out.Registries, c.getJSON(ctx, http.MethodGet, "/v1/registries", nil, &out)
}

// AddRegistry stores the tenant's login to a registry host, replacing any.
func (c *Client) AddRegistry(ctx context.Context, host, username, password string) error {
	body, err := json.Marshal(api.RegistryLoginRequest{Username: username, Password: password})
	if err != nil {
		return err
	}
	return c.getJSON(ctx, http.MethodPut, "/v1/registries/"+url.PathEscape(host), body, nil)
}

// RemoveRegistry removes the tenant's login to a registry host.
func (c *Client) RemoveRegistry(ctx context.Context, host string) error {
	return c.getJSON(ctx, http.MethodDelete, "/v1/registries/"+url.PathEscape(host), nil, nil)
}

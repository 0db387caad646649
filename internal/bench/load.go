package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"baton.dev/baton/backoff"
	"baton.dev/baton/internal/simcluster"
	"baton.dev/baton/orchestrator/client"
)

// requester sends one request and reports whether it hit a cold start.
type requester func(ctx context.Context) (cold bool, err error)

// newHTTPClient is the one HTTP client both sides of a comparison use.
func newHTTPClient() *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute,
	}}
}

// batonInvoker invokes workflow name through the orchestrator's API with
// the project's client over hc.
func batonInvoker(hc *http.Client, baseURL, token, name string, body []byte) requester {
	c := &client.Client{URL: baseURL, Token: token, HTTP: hc}
	return func(ctx context.Context) (bool, error) {
		res, err := c.Invoke(ctx, name, body)
		if err != nil {
			return false, err
		}
		return res.ColdStarts > 0, nil
	}
}

// directPoster posts to the sandboxes' endpoints in turn, as the router
// would, without Baton.
func directPoster(hc *http.Client, endpoints []string, body []byte) requester {
	var next atomic.Uint64
	return func(ctx context.Context) (bool, error) {
		ep := endpoints[(next.Add(1)-1)%uint64(len(endpoints))]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep+"/", bytes.NewReader(body))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return false, err
		}
		defer drain(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("POST %s/: %s", ep, resp.Status)
		}
		return false, nil
	}
}

// drain reads and closes a response body so its connection is reused.
func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
}

// LoadResult is what one load measured on one path.
type LoadResult struct {
	// Requests counts the requests sent, Errors those that failed and
	// ColdStarts those that waited for a new sandbox.
	Requests   int `json:"requests"`
	Errors     int `json:"errors"`
	ColdStarts int `json:"coldStarts"`
	// Seconds is the load's length, PerSecond the successful requests
	// per second over it.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	// Latency summarises the successful requests' times.
	Latency simcluster.Latency `json:"latency"`
	// FirstError is the first failure's message, if any.
	FirstError string `json:"firstError,omitempty"`
}

// collector gathers the outcomes of concurrent requests.
type collector struct {
	mu    sync.Mutex
	lat   []time.Duration
	res   LoadResult
	start time.Time
}

func (c *collector) add(d time.Duration, cold bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Requests++
	if err != nil {
		c.res.Errors++
		if c.res.FirstError == "" {
			c.res.FirstError = err.Error()
		}
		return
	}
	if cold {
		c.res.ColdStarts++
	}
	c.lat = append(c.lat, d)
}

func (c *collector) result() LoadResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Seconds = time.Since(c.start).Seconds()
	c.res.PerSecond = float64(len(c.lat)) / c.res.Seconds
	c.res.Latency = simcluster.Summarize(c.lat)
	return c.res
}

// paced sends requests open loop at rate per second to each of paths in
// turn, in blocks of block (the first block to paths[0], the next to
// paths[1], …), until every path has had d of them or ctx ends, and
// returns each path's result. Alternating in short blocks keeps the load
// at rate while every path meets the same machine: a noisy second falls
// on all of them, not on whichever ran then.
func paced(ctx context.Context, rate float64, d, block time.Duration, paths ...requester) []LoadResult {
	cs := make([]*collector, len(paths))
	start := time.Now()
	for i := range cs {
		cs[i] = &collector{start: start}
	}
	total := int(rate*d.Seconds()) * len(paths)
	var wg sync.WaitGroup
	for i := range total {
		offset := time.Duration(float64(i) / rate * float64(time.Second))
		if backoff.Sleep(ctx, time.Until(start.Add(offset))) != nil {
			break
		}
		k := int(offset/block) % len(paths)
		do, c := paths[k], cs[k]
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			cold, err := do(ctx)
			c.add(time.Since(t), cold, err)
		}()
	}
	wg.Wait()
	out := make([]LoadResult, len(cs))
	for i, c := range cs {
		out[i] = c.result()
		out[i].PerSecond *= float64(len(paths)) // each path had 1/n of the time
	}
	return out
}

// saturate keeps concurrency requests in flight for d, or until ctx ends
// (a closed loop).
func saturate(ctx context.Context, concurrency int, d time.Duration, do requester) LoadResult {
	c := &collector{start: time.Now()}
	end := c.start.Add(d)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				t := time.Now()
				cold, err := do(ctx)
				c.add(time.Since(t), cold, err)
			}
		}()
	}
	wg.Wait()
	return c.result()
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"baton.dev/baton/internal/simcluster"
	"baton.dev/baton/orchestrator/client"
)

// requester sends one request and reports whether it hit a cold start.
type requester func(ctx context.Context) (cold bool, err error)

// benchClient is the one HTTP client both sides of a comparison use.
func benchClient() *http.Client {
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

// loadResult is one side of a comparison.
type loadResult struct {
	Requests   int                `json:"requests"`
	Errors     int                `json:"errors"`
	ColdStarts int                `json:"coldStarts"`
	Seconds    float64            `json:"seconds"`
	PerSecond  float64            `json:"perSecond"`
	Latency    simcluster.Latency `json:"latency"`
	FirstError string             `json:"firstError,omitempty"`
}

// collector gathers the outcomes of concurrent requests.
type collector struct {
	mu    sync.Mutex
	lat   []time.Duration
	res   loadResult
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

func (c *collector) result() loadResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Seconds = time.Since(c.start).Seconds()
	c.res.PerSecond = float64(len(c.lat)) / c.res.Seconds
	c.res.Latency = simcluster.Summarize(c.lat)
	return c.res
}

// paced sends rate requests per second for d, each on its own goroutine
// (an open loop: a slow answer does not delay the next request).
func paced(ctx context.Context, rate float64, d time.Duration, do requester) loadResult {
	c := &collector{start: time.Now()}
	total := int(rate * d.Seconds())
	var wg sync.WaitGroup
	for i := range total {
		at := c.start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			cold, err := do(ctx)
			c.add(time.Since(t), cold, err)
		}()
	}
	wg.Wait()
	return c.result()
}

// saturate keeps concurrency requests in flight for d (a closed loop).
func saturate(ctx context.Context, concurrency int, d time.Duration, do requester) loadResult {
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

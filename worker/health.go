package worker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// WaitHealthy polls GET endpoint/healthz with a short backoff until it
// answers 200, the sandbox's process ends, timeout passes or ctx ends.
// ended, when not nil, is closed when the process ends; how then says in
// a few words how it ended ("exited with status 2"). Failures other than
// ctx's wrap ErrUnhealthy.
func WaitHealthy(ctx context.Context, endpoint string, timeout time.Duration, ended <-chan struct{}, how func() string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	url := endpoint + "/healthz"
	for delay := 2 * time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		last := probe(ctx, client, url)
		if last == nil {
			return nil
		}
		select {
		case <-ended:
			return fmt.Errorf("%w: the process %s before GET %s answered 200", ErrUnhealthy, how(), url)
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%w: GET %s did not answer 200 within %s (last: %v)", ErrUnhealthy, url, timeout, last)
			}
			return fmt.Errorf("wait for GET %s: %w", url, context.Cause(ctx))
		case <-time.After(delay):
		}
	}
}

// probe does one GET; nil means 200.
func probe(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

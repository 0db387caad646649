package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"baton.dev/baton/backoff"
)

// WaitHealthy polls GET endpoint/healthz with a short backoff until it
// answers 200, the sandbox's process ends, timeout passes or ctx ends.
// ended, when not nil, is closed when the process ends; how then says in
// a few words how it ended ("exited with status 2"). verify, when not
// nil, is asked about every probe's connection before the probe is sent
// (Runtime.Verify): a connection that ends elsewhere fails the wait at
// once with an error wrapping ErrIdentity. Other failures but ctx's wrap
// ErrUnhealthy.
func WaitHealthy(ctx context.Context, endpoint string, timeout time.Duration, ended <-chan struct{}, how func() string, verify func(Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	if verify != nil {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			conn, err := ConnOf(c)
			if err == nil {
				err = verify(conn)
			}
			if err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}
	}
	client := &http.Client{Transport: tr}
	url := endpoint + "/healthz"
	poll := backoff.Exponential{Base: 2 * time.Millisecond, Max: 100 * time.Millisecond}
	for attempt := 1; ; attempt++ {
		last := probe(ctx, client, url)
		if last == nil {
			return nil
		}
		if errors.Is(last, ErrIdentity) {
			// Something else holds the sandbox's address: waiting will
			// not make it the sandbox's. Fail now, so that the sandbox is
			// made again (elsewhere, or at another address).
			return fmt.Errorf("GET %s reached something other than the sandbox: %w", url, last)
		}
		select {
		case <-ended:
			return fmt.Errorf("%w: the process %s before GET %s answered 200", ErrUnhealthy, how(), url)
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%w: GET %s did not answer 200 within %s (last: %v)", ErrUnhealthy, url, timeout, last)
			}
			return fmt.Errorf("wait for GET %s: %w", url, context.Cause(ctx))
		case <-time.After(poll.Delay(attempt)):
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

package workflow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// DefaultBaseBackoff is the backoff ceiling before the first retry.
const DefaultBaseBackoff = 100 * time.Millisecond

// DefaultMaxBackoff caps the backoff ceiling.
const DefaultMaxBackoff = 5 * time.Second

// invokeWithRetry runs an attempt and retries a failure up to st.Retries
// times, waiting a full-jitter exponential backoff between attempts and
// stopping as soon as ctx is done. It returns the attempts made.
func (e *Engine) invokeWithRetry(ctx context.Context, st *Stage, fn *Function, input []byte, inv Invoker) ([]byte, int, error) {
	retries := max(st.Retries, 0)
	for attempt := 1; ; attempt++ {
		out, err := invokeOnce(ctx, st, fn, input, inv)
		if err == nil {
			return out, attempt, nil
		}
		if ctx.Err() != nil {
			return nil, attempt, err
		}
		if attempt > retries {
			if attempt > 1 {
				err = fmt.Errorf("failed after %d attempts: %w", attempt, err)
			}
			return nil, attempt, err
		}
		wait := time.Duration(rand.Int64N(int64(e.backoffCeiling(attempt)) + 1))
		if !sleep(ctx, wait) {
			return nil, attempt, fmt.Errorf("%w (while waiting to retry; last error: %v)", context.Cause(ctx), err)
		}
	}
}

// backoffCeiling is the longest wait after the given failed attempt (1-based):
// BaseBackoff doubled per attempt, capped at MaxBackoff.
func (e *Engine) backoffCeiling(attempt int) time.Duration {
	base, ceiling := e.BaseBackoff, e.MaxBackoff
	if base <= 0 {
		base = DefaultBaseBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxBackoff
	}
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// sleep waits d or until ctx is done; it reports whether it waited the full d.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

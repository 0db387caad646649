package workflow

import (
	"context"
	"fmt"
	"time"

	"baton.dev/baton/backoff"
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
	schedule := e.backoffSchedule()
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
		if cause := backoff.Sleep(ctx, schedule.Jittered(attempt)); cause != nil {
			return nil, attempt, fmt.Errorf("%w (while waiting to retry; last error: %v)", cause, err)
		}
	}
}

// backoffSchedule is the engine's retry schedule: BaseBackoff doubled per
// failed attempt, capped at MaxBackoff, each taking its default when <= 0.
// A retry waits a jittered draw from it, up to the attempt's Delay.
func (e *Engine) backoffSchedule() backoff.Exponential {
	base, ceiling := e.BaseBackoff, e.MaxBackoff
	if base <= 0 {
		base = DefaultBaseBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxBackoff
	}
	return backoff.Exponential{Base: base, Max: ceiling}
}

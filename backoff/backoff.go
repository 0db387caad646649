// Package backoff is how Baton waits between attempts: one sleep that ends
// with its context, and one exponential schedule, used by every retry loop
// (the workflow engine's stage retries, the orchestrator's consumers, the
// history writer, the workers' readiness polls and the benchmarks).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Sleep waits d, or until ctx ends. It returns nil when it waited the full
// d and the context's cause when ctx ended first (at once, when ctx has
// already ended, even for d <= 0).
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Exponential is a schedule that starts at Base and doubles per attempt up
// to Max. A zero Base waits nothing; a zero Max means no cap.
type Exponential struct {
	Base, Max time.Duration
}

// Delay is the wait after the given failed attempt (1-based): Base doubled
// attempt-1 times, capped at Max.
func (e Exponential) Delay(attempt int) time.Duration {
	d := e.Base
	if d <= 0 {
		return 0
	}
	for i := 1; i < attempt; i++ {
		if e.Max > 0 && d >= e.Max {
			break
		}
		if d > time.Duration(1<<62)/2 {
			break // doubling again would overflow
		}
		d *= 2
	}
	if e.Max > 0 {
		d = min(d, e.Max)
	}
	return d
}

// Jittered is a wait drawn uniformly from [0, Delay(attempt)] ("full
// jitter"): retries of many callers that failed together spread out
// instead of arriving together again.
func (e Exponential) Jittered(attempt int) time.Duration {
	return time.Duration(rand.Int64N(int64(e.Delay(attempt)) + 1))
}

// Retry calls f until it returns nil, waiting Delay(attempt) after each
// failure; it returns nil once f succeeds, or the context's cause when ctx
// ends first. f learns the attempt (1-based) and the wait that follows a
// failure through onFail (which may be nil), so the caller can log it.
func (e Exponential) Retry(ctx context.Context, f func(ctx context.Context) error, onFail func(attempt int, err error, wait time.Duration)) error {
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		wait := e.Delay(attempt)
		if onFail != nil {
			onFail(attempt, err, wait)
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

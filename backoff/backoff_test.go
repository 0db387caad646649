package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	cases := []struct {
		name    string
		e       Exponential
		attempt int
		want    time.Duration
	}{
		{"first attempt waits the base", Exponential{Base: 100 * time.Millisecond, Max: time.Second}, 1, 100 * time.Millisecond},
		{"doubles per attempt", Exponential{Base: 100 * time.Millisecond, Max: time.Second}, 3, 400 * time.Millisecond},
		{"capped at max", Exponential{Base: 100 * time.Millisecond, Max: time.Second}, 5, time.Second},
		{"a cap below the base caps the base", Exponential{Base: time.Second, Max: time.Millisecond}, 1, time.Millisecond},
		{"no cap", Exponential{Base: time.Millisecond}, 11, 1024 * time.Millisecond},
		{"zero base waits nothing", Exponential{Max: time.Second}, 4, 0},
		{"attempt 0 counts as the first", Exponential{Base: time.Second}, 0, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.e.Delay(c.attempt)
			if got != c.want {
				t.Fatalf("Delay(%d) = %v, want %v", c.attempt, got, c.want)
			}
			if got < 0 {
				t.Fatalf("Delay(%d) is negative: %v", c.attempt, got)
			}
		})
	}
}

func TestDelayDoesNotOverflow(t *testing.T) {
	e := Exponential{Base: time.Second}
	if d, d40 := e.Delay(200), e.Delay(40); d < d40 {
		t.Fatalf("Delay(200) = %v, less than Delay(40) = %v: it overflowed", d, d40)
	}
}

func TestJitteredStaysWithinTheDelay(t *testing.T) {
	e := Exponential{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	seen := map[bool]bool{}
	for i := 0; i < 1000; i++ {
		d := e.Jittered(3)
		if d < 0 || d > 40*time.Millisecond {
			t.Fatalf("Jittered(3) = %v, outside [0, 40ms]", d)
		}
		seen[d < 20*time.Millisecond] = true
	}
	if !seen[true] || !seen[false] {
		t.Fatalf("1000 draws all fell in one half of [0, 40ms]: not jittered")
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("full sleep: %v", err)
	}
	cause := errors.New("stopped by the test")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := Sleep(ctx, 0); !errors.Is(err, cause) {
		t.Fatalf("sleep on an ended context with d=0: %v, want the cause", err)
	}
	ctx, cancel = context.WithCancelCause(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel(cause) }()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, cause) {
		t.Fatalf("sleep cut short: %v, want the cause", err)
	}
	if time.Since(start) > time.Minute {
		t.Fatalf("sleep did not end with its context")
	}
}

func TestRetry(t *testing.T) {
	e := Exponential{Base: time.Microsecond, Max: 4 * time.Microsecond}
	var waits []time.Duration
	calls := 0
	err := e.Retry(context.Background(), func(context.Context) error {
		calls++
		if calls < 4 {
			return errors.New("not yet")
		}
		return nil
	}, func(attempt int, err error, wait time.Duration) { waits = append(waits, wait) })
	if err != nil || calls != 4 {
		t.Fatalf("Retry = %v after %d calls, want nil after 4", err, calls)
	}
	want := []time.Duration{time.Microsecond, 2 * time.Microsecond, 4 * time.Microsecond}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	err = e.Retry(ctx, func(context.Context) error { cancel(); return errors.New("fails") }, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Retry on a cancelled context = %v, want context.Canceled", err)
	}
}

package stalls

import (
	"context"
	"testing"
	"time"
)

// fakeClock advances by step on every read, and by a gap at the reads
// listed in jumps.
type fakeClock struct {
	t     time.Time
	step  time.Duration
	reads int
	jumps map[int]time.Duration
}

func (c *fakeClock) now() time.Time {
	c.reads++
	c.t = c.t.Add(c.step + c.jumps[c.reads])
	return c.t
}

func TestProbeCountsGaps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		jumps   map[int]time.Duration
		want    Report
		minSpun time.Duration
	}{
		{name: "no stall", want: Report{}},
		{
			name:  "below the threshold",
			jumps: map[int]time.Duration{10: Threshold - 2*time.Nanosecond},
			want:  Report{},
		},
		{
			name:  "three stalls",
			jumps: map[int]time.Duration{10: 100 * time.Microsecond, 20: 2 * time.Millisecond, 30: Threshold},
			want: Report{Count: 3, Over1ms: 1, Longest: 2*time.Millisecond + time.Nanosecond,
				Stalled: 100*time.Microsecond + 2*time.Millisecond + Threshold + 3*time.Nanosecond},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{t: time.Unix(1000, 0), step: time.Nanosecond, jumps: tc.jumps}
			got := probe(context.Background(), 10*time.Millisecond, c.now)
			if got.Count != tc.want.Count || got.Over1ms != tc.want.Over1ms || got.Longest != tc.want.Longest || got.Stalled != tc.want.Stalled {
				t.Errorf("probe = %+v, want %+v", got, tc.want)
			}
			if got.Spun < 10*time.Millisecond || got.Spun > 10*time.Millisecond+time.Nanosecond {
				t.Errorf("spun %v, want 10ms", got.Spun)
			}
			if f := got.Fraction(); f != float64(got.Stalled)/float64(got.Spun) {
				t.Errorf("fraction %v", f)
			}
		})
	}
}

func TestProbeEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	r := Probe(ctx, time.Hour)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("a probe with an ended context ran %v", el)
	}
	if r.Spun > time.Second {
		t.Fatalf("spun %v", r.Spun)
	}
}

func TestProbeRealClock(t *testing.T) {
	r := Probe(context.Background(), 20*time.Millisecond)
	if r.Spun < 20*time.Millisecond {
		t.Fatalf("spun %v, want at least 20ms", r.Spun)
	}
	if r.Stalled > r.Spun || r.Longest > r.Stalled || (r.Count == 0) != (r.Stalled == 0) {
		t.Fatalf("inconsistent report %+v", r)
	}
}

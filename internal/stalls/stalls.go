// Package stalls measures how often this machine takes the CPU away from
// a running thread, and for how long: the floor under any tail latency a
// benchmark reports. A virtual machine's vCPU can be descheduled by its
// host, and the kernel runs interrupts and its own threads; a request
// that is on the CPU then waits, whatever the program does.
package stalls

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// Threshold is the shortest gap that counts as a stall: longer than any
// pair of clock reads in a loop takes (tens of nanoseconds), shorter than
// the tail latencies being explained.
const Threshold = 50 * time.Microsecond

// Report is what one probe saw.
type Report struct {
	// Spun is how long the probe ran.
	Spun time.Duration `json:"spunNs"`
	// Count is the number of gaps of at least Threshold between two
	// consecutive clock reads; Stalled their sum, Longest the longest.
	Count   int           `json:"count"`
	Stalled time.Duration `json:"stalledNs"`
	Longest time.Duration `json:"longestNs"`
	// Over1ms counts the stalls of a millisecond or more.
	Over1ms int `json:"over1ms"`
}

// Fraction is the share of the probe's time the thread was stalled.
func (r Report) Fraction() float64 {
	if r.Spun <= 0 {
		return 0
	}
	return float64(r.Stalled) / float64(r.Spun)
}

func (r Report) String() string {
	return fmt.Sprintf("%d stalls of >= %v in %v (%d of >= 1ms), %.2f%% of the time, longest %v",
		r.Count, Threshold, r.Spun.Round(time.Millisecond), r.Over1ms, 100*r.Fraction(), r.Longest.Round(time.Microsecond))
}

// Probe spins one OS thread for d (or until ctx ends), reading the clock
// in a loop, and reports the gaps between reads: the times the thread was
// not running. It keeps one CPU busy while it runs, so it belongs before
// or after a measurement, not during one.
func Probe(ctx context.Context, d time.Duration) Report {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return probe(ctx, d, time.Now)
}

// probe is Probe over a given clock.
func probe(ctx context.Context, d time.Duration, now func() time.Time) Report {
	var r Report
	start := now()
	end, last := start.Add(d), start
	for i := 0; last.Before(end); i++ {
		// A context check costs more than a clock read; one in 4096
		// reads still ends the probe within microseconds.
		if i&4095 == 0 && ctx.Err() != nil {
			break
		}
		t := now()
		if gap := t.Sub(last); gap >= Threshold {
			r.Count++
			r.Stalled += gap
			r.Longest = max(r.Longest, gap)
			if gap >= time.Millisecond {
				r.Over1ms++
			}
		}
		last = t
	}
	r.Spun = last.Sub(start)
	return r
}

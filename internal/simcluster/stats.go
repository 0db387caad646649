package simcluster

import (
	"slices"
	"time"

	"baton.dev/baton/scheduler/stats"
)

// Latency summarises a set of durations, in milliseconds for JSON.
type Latency struct {
	N      int     `json:"n"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// Summarize returns the count, mean, median, 99th percentile (nearest
// rank) and maximum of ds. It sorts ds.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		N:      len(ds),
		MeanMs: ms(sum / time.Duration(len(ds))),
		P50Ms:  ms(stats.Sorted(ds, 50)),
		P99Ms:  ms(stats.Sorted(ds, 99)),
		MaxMs:  ms(ds[len(ds)-1]),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

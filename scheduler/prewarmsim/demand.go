package prewarmsim

import "sort"

// demandWindow keeps the recent history of a pool's demand (requests in
// flight plus queued) as its running integral, so that the mean demand
// over any window up to maxDemandWindow ending now costs a binary search:
// the continuous-time version of the live autoscaler's sampled windows.
type demandWindow struct {
	t     []float64 // when the demand changed
	cum   []float64 // ∫ demand up to t
	level []float64 // demand from t on
	head  int
}

// maxDemandWindow is the longest window asked for (the stable window is at
// most 60 s), in seconds.
const maxDemandWindow = 60

// record notes that the demand is level from now on.
func (d *demandWindow) record(now, level float64) {
	cum := 0.0
	if n := len(d.t); n > 0 {
		cum = d.cum[n-1] + d.level[n-1]*(now-d.t[n-1])
	}
	d.t = append(d.t, now)
	d.cum = append(d.cum, cum)
	d.level = append(d.level, level)
	for d.head+1 < len(d.t) && d.t[d.head+1] <= now-maxDemandWindow {
		d.head++
	}
	if d.head > 64 && d.head > len(d.t)/2 {
		n := copy(d.t, d.t[d.head:])
		copy(d.cum, d.cum[d.head:])
		copy(d.level, d.level[d.head:])
		d.t, d.cum, d.level = d.t[:n], d.cum[:n], d.level[:n]
		d.head = 0
	}
}

// integral returns ∫ demand from the first record up to x.
func (d *demandWindow) integral(x float64) float64 {
	t := d.t[d.head:]
	k := sort.Search(len(t), func(i int) bool { return t[i] > x }) - 1
	if k < 0 {
		return d.cum[d.head] // before the kept history: no demand counted
	}
	k += d.head
	return d.cum[k] + d.level[k]*(x-d.t[k])
}

// mean returns the time-average demand over the window seconds ending at
// now (the current demand for windows under a millisecond).
func (d *demandWindow) mean(now, window float64) float64 {
	n := len(d.t)
	if n == 0 {
		return 0
	}
	if window < 1e-3 {
		return d.level[n-1]
	}
	return (d.integral(now) - d.integral(now-window)) / window
}

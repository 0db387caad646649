package prewarmsim

// demandWindow keeps the recent history of a pool's demand (requests in
// flight plus queued) as its running integral, so that the mean demand
// over any window up to maxDemandWindow ending now costs a binary search:
// the continuous-time version of the live autoscaler's sampled windows.
type demandWindow struct {
	// steps are the changes by time; those before head are past every
	// window (head is at most the last step at or before
	// maxDemandWindow before the latest step, or the first step).
	steps []demandStep
	head  int
	// hints are the steps last found for the start of the stable and of
	// the panic window (−1: none): as now moves on, the next is found
	// from there.
	hints [2]int
}

// The windows mean is asked for, each with its hint.
const (
	stableWindow = iota
	panicWindow
)

// demandStep is one change of the demand.
type demandStep struct {
	t     float64 // when the demand changed
	cum   float64 // ∫ demand up to t
	level float64 // demand from t on
}

// maxDemandWindow is the longest window asked for (the stable window is at
// most 60 s), in seconds.
const maxDemandWindow = 60

// record notes that the demand is level from now on.
func (d *demandWindow) record(now, level float64) {
	cum := 0.0
	if n := len(d.steps); n > 0 {
		last := &d.steps[n-1]
		cum = last.cum + last.level*(now-last.t)
	}
	d.steps = append(d.steps, demandStep{t: now, cum: cum, level: level})
	if len(d.steps)%64 != 0 {
		// The history is dropped 64 steps at a time: a window ending at
		// or after now, at most maxDemandWindow long, starts at or after
		// the step at head however far behind it is.
		return
	}
	for d.head+1 < len(d.steps) && d.steps[d.head+1].t <= now-maxDemandWindow {
		d.head++
	}
	if d.head > 64 && d.head > len(d.steps)/2 {
		n := copy(d.steps, d.steps[d.head:])
		d.steps = d.steps[:n]
		d.head = 0
		d.hints = [2]int{-1, -1}
	}
}

// integral returns ∫ demand from the first record up to x; hint, when
// not nil, is a step at or before x to look from (see hints), and is
// set to the step found.
func (d *demandWindow) integral(x float64, hint *int) float64 {
	steps := d.steps[d.head:]
	// k is the last step at or before x: the latest when x is past it
	// (now always is), else found from the hint (the steps are few since
	// it was found), else by binary search.
	k := len(steps) - 1
	if steps[k].t > x {
		if h := -1; hint != nil && *hint >= 0 {
			// Any step at or before x will do: the steps are in time order.
			if h = max(*hint-d.head, 0); h < len(steps) && steps[h].t <= x {
				for steps[h+1].t <= x {
					h++
				}
				k = h
			}
		}
		if k == len(steps)-1 { // no hint to use: steps[k].t > x
			lo, hi := 0, k // steps[hi].t > x
			for lo < hi {
				m := int(uint(lo+hi) >> 1)
				if steps[m].t > x {
					hi = m
				} else {
					lo = m + 1
				}
			}
			k = lo - 1
		}
	}
	if hint != nil {
		*hint = -1
		if k >= 0 {
			*hint = k + d.head
		}
	}
	if k < 0 {
		return steps[0].cum // before the kept history: no demand counted
	}
	s := &steps[k]
	return s.cum + s.level*(x-s.t)
}

// mean returns the time-average demand over the window seconds ending at
// now (the current demand for windows under a millisecond); which says
// whether it is the stable or the panic window.
func (d *demandWindow) mean(now, window float64, which int) float64 {
	n := len(d.steps)
	if n == 0 {
		return 0
	}
	if window < 1e-3 {
		return d.steps[n-1].level
	}
	return (d.integral(now, nil) - d.integral(now-window, &d.hints[which])) / window
}

package prewarm

import "math"

// idleWindow chooses, from a function's idle times (ITs: intervals from
// one interval with arrivals to the next), when its first sandbox should
// be warm after a call: the window of lowest expected cost, counting an
// interval a sandbox is idle as one and a cold start as coldCost
// intervals (the idle time a cold start is worth). Two shapes of window
// are weighed:
//
//   - keep (prewarm 0): the sandbox stays for keep intervals after the
//     last interval with arrivals. An IT of t costs t when t ≤ keep, else
//     keep + coldCost.
//   - pre-warm (prewarm ≥ 2): the sandbox goes as soon as it is idle and
//     is warmed again from prewarm intervals after the last interval with
//     arrivals, for keep more: an IT of t costs coldCost when t < prewarm,
//     t − prewarm + ½ when the sandbox is warm for it (it was warmed some
//     time in the interval before), else keep + 1 + coldCost.
//
// A timer-like function (ITs all about its period) gets a pre-warm window
// around the period and pays no idle between calls; a Poisson one gets a
// keep window as long as its rate makes a sandbox worth keeping, or none;
// a bursty one a keep window as long as the bursts' gaps. ITs beyond the
// histogram's range count as never ending.
type idleWindow struct {
	bins     []int // bins[t]: ITs of t intervals, t = 1 … len−1
	over     int   // ITs beyond the range
	n        int   // ITs counted
	last     int   // last interval with arrivals; −1 before the first
	coldCost float64
	// missShare, when positive, chooses the window differently: the one
	// of least idle whose misses, leaving out ITs of one interval (the
	// keep-alive's concern), are at most missShare of the calls seen
	// (calls, counted by the planner).
	missShare float64
	calls     int
	// nextFit is the number of ITs at which the window is chosen again.
	nextFit int
	// prewarm and keep are the chosen window, in intervals; fitted says
	// whether one has been chosen.
	prewarm, keep int
	fitted        bool
}

// idleWindowMinPrewarm is the shortest pre-warm window: a planner learns
// of an interval's arrivals two intervals after it, when it plans the next
// but one.
const idleWindowMinPrewarm = 2

// idleWindowMinSamples is how many ITs the window waits for before it is
// first chosen.
const idleWindowMinSamples = 10

func newIdleWindow(rangeIntervals int, coldCost float64) *idleWindow {
	return &idleWindow{bins: make([]int, rangeIntervals+1), last: -1, coldCost: coldCost, nextFit: idleWindowMinSamples}
}

// setChoice changes the price of a cold start and the share of calls the
// window may miss (zero: choose by the price; see missShare): the window
// is chosen again from the ITs seen, at once when it had been chosen
// already.
func (w *idleWindow) setChoice(coldCost, missShare float64) {
	if coldCost == w.coldCost && missShare == w.missShare {
		return
	}
	w.coldCost, w.missShare = coldCost, missShare
	if w.fitted {
		w.fit()
	}
}

// observe records that interval i had arrivals (intervals in order).
func (w *idleWindow) observe(i int) {
	if w.last >= 0 && i > w.last {
		if it := i - w.last; it < len(w.bins) {
			w.bins[it]++
		} else {
			w.over++
		}
		w.n++
	}
	w.last = i
	if w.n >= w.nextFit {
		w.fit()
		// Again after a quarter more ITs: about 25 fits for a function
		// called every interval of a day of one-minute intervals.
		w.nextFit = w.n + max(idleWindowMinSamples, w.n/4)
	}
}

// fit chooses the window over the ITs seen: of lowest total cost or, with
// a miss share, of least idle within it (see missShare; with none within
// it, of fewest misses).
func (w *idleWindow) fit() {
	if w.missShare <= 0 {
		c := w.coldCost
		bestCost := math.Inf(1)
		w.windows(func(early float64) bool { return early*c >= bestCost }, func(prewarm, keep int, idle, misses, _ float64) {
			if cost := idle + misses*c; cost < bestCost {
				bestCost, w.prewarm, w.keep = cost, prewarm, keep
			}
		})
		w.fitted = true
		return
	}
	allowed := w.missShare * float64(w.calls)
	bestIdle, bestMisses := math.Inf(1), math.Inf(1)
	w.windows(func(float64) bool { return false }, func(prewarm, keep int, idle, misses, missedOnes float64) {
		misses -= missedOnes
		switch ok := misses <= allowed; {
		case ok && (bestMisses > allowed || idle < bestIdle),
			!ok && bestMisses > allowed && (misses < bestMisses || misses == bestMisses && idle < bestIdle):
			bestIdle, bestMisses, w.prewarm, w.keep = idle, misses, prewarm, keep
		}
	})
	w.fitted = true
}

// windows shows visit every window, keep nothing first, then keep windows
// and pre-warm windows, with the idle intervals it costs over the ITs
// seen, the ITs it misses and how many of those are ITs of one interval,
// by prefix sums: O(range²). Pre-warm windows from one on stop being
// shown once stop says so of the ITs they miss before the window (later
// ones only miss more).
func (w *idleWindow) windows(stop func(early float64) bool, visit func(prewarm, keep int, idle, misses, missedOnes float64)) {
	b := len(w.bins) - 1
	count := make([]float64, b+2) // count[t]: ITs of fewer than t intervals
	sum := make([]float64, b+2)   // sum[t]: their total length
	for t := 1; t <= b; t++ {
		count[t+1] = count[t] + float64(w.bins[t])
		sum[t+1] = sum[t] + float64(t*w.bins[t])
	}
	total := count[b+1] + float64(w.over)
	n := func(lo, hi int) float64 { return count[hi+1] - count[lo] } // ITs in [lo, hi]
	s := func(lo, hi int) float64 { return sum[hi+1] - sum[lo] }
	ones := float64(w.bins[min(1, b)])
	visit(0, 0, 0, total, ones) // keep nothing: every call cold
	for keep := 1; keep <= b; keep++ {
		beyond := total - n(1, keep)
		visit(0, keep, s(1, keep)+beyond*float64(keep), beyond, 0)
	}
	for prewarm := idleWindowMinPrewarm; prewarm <= b; prewarm++ {
		early := n(1, prewarm-1)
		if stop(early) {
			break
		}
		for keep := 0; prewarm+keep <= b; keep++ {
			hi := prewarm + keep
			warm := n(prewarm, hi)
			beyond := total - early - warm
			visit(prewarm, keep, s(prewarm, hi)-(float64(prewarm)-0.5)*warm+beyond*(float64(keep)+1), early+beyond, ones)
		}
	}
}

// floor is the first sandbox's floor for interval i: one inside the
// window, counted from the last interval with arrivals seen (from 0 for a
// keep window).
func (w *idleWindow) floor(i int) int {
	if w.last < 0 || (w.prewarm == 0 && w.keep == 0) {
		return 0
	}
	if since := i - w.last; since >= w.prewarm && since <= w.prewarm+w.keep {
		return 1
	}
	return 0
}

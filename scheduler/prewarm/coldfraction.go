package prewarm

import (
	"math"
	"slices"
	"time"
)

// levelModel is what a pool does with a function's calls within an
// interval, in units of the mean duration: calls arrive as a Poisson
// process, batch at a time, each busy for an exponential time of mean 1
// (the mean duration: the exponential's spread is wider than that of the
// stages' log-normal times, so the model errs towards cold starts); a call
// takes the idle sandbox used most recently (the autoscaler's stack), so
// the one that takes the pool to level ℓ (ℓ calls in flight) finds the
// sandbox of level ℓ, idle since the pool last dropped below ℓ. With a
// floor of F sandboxes and a keep-alive K (idle sandboxes above the floor
// go after K; the oldest idle are the highest levels), the call is cold
// when ℓ > F and that sandbox has been idle K or longer.
type levelModel struct {
	// hits are the calls counted: the level each took and the time its
	// sandbox had been idle (+Inf: the level was never reached before).
	hits []levelHit
	// timeAt[n] is the time the pool spent with n calls in flight over the
	// calls counted, and span the whole of it.
	timeAt []float64
	span   float64
}

type levelHit struct {
	level int
	gap   float64
}

// levelModelCalls is how many calls levelModel counts, after
// levelModelWarmUp calls that fill the levels.
const (
	levelModelCalls  = 6000
	levelModelWarmUp = 1500
)

// newLevelModel simulates calls arriving at m calls per mean duration
// (the mean in flight), batch at a time. It is deterministic: the draws
// are seeded. draws, when not nil, are its first draws, drawn ahead
// (levelModelDraws); it draws the rest.
func newLevelModel(m float64, batch int, draws []float64) *levelModel {
	batch = max(batch, 1)
	rate := m / float64(batch) // batches per mean duration
	var seq uint64
	draw := func() float64 { // exponential of mean 1
		seq++
		if seq <= uint64(len(draws)) {
			return draws[seq-1]
		}
		return -math.Log(uniform(qosColdSeed, 0x1e7e1, seq))
	}
	lm := &levelModel{}
	var release []float64 // release[ℓ]: when level ℓ+1 was last left; NaN never
	deps := &departures{}
	n, now, start, counting := 0, 0.0, 0.0, false
	advance := func(to float64) {
		if counting {
			for len(lm.timeAt) <= n {
				lm.timeAt = append(lm.timeAt, 0)
			}
			lm.timeAt[n] += to - now
		}
		now = to
	}
	for calls := 0; calls < levelModelWarmUp+levelModelCalls; {
		t := now + draw()/rate
		for len(*deps) > 0 && (*deps)[0] <= t {
			d := deps.pop()
			advance(d)
			release[n-1] = d
			n--
		}
		advance(t)
		for range batch {
			n++
			if len(release) < n {
				release = append(release, math.NaN())
			}
			if calls >= levelModelWarmUp {
				if !counting {
					start, counting = t, true
				}
				gap := math.Inf(1)
				if !math.IsNaN(release[n-1]) {
					gap = t - release[n-1]
				}
				lm.hits = append(lm.hits, levelHit{level: n, gap: gap})
			}
			calls++
			deps.push(t + draw())
		}
	}
	lm.span = now - start
	return lm
}

// levelModelDraws returns the first exponential draws newLevelModel
// takes, in order: the same for every model (the draws are seeded,
// whatever the rate and batch), so a choice cache draws them once for
// the planners of every function that build models over and over
// (aquatope-qos, see planAllowedCold). A model of one call at a time
// takes all of them; one of larger batches fewer, unless its batch is
// very large.
func levelModelDraws() []float64 {
	table := make([]float64, 2*(levelModelWarmUp+levelModelCalls))
	for k := range table {
		table[k] = -math.Log(uniform(qosColdSeed, 0x1e7e1, uint64(k)+1))
	}
	return table
}

// coldAndIdle are the share of the counted calls that find no warm
// sandbox under a floor and a keep-alive (in mean durations), leaving out
// those idle horizon or longer (the idle window's concern), and the idle
// sandbox-time (in mean durations) the pool spends: at the floor's levels
// the time they are not in use, above it the time each sandbox waits to be
// used again or, past the keep-alive, to go.
func (lm *levelModel) coldAndIdle(floor int, keep, horizon float64) (cold, idle float64) {
	misses := 0
	for _, h := range lm.hits {
		if h.level <= floor {
			continue
		}
		if h.gap >= keep && h.gap < horizon {
			misses++
		}
		if !math.IsInf(h.gap, 1) {
			idle += min(h.gap, keep)
		}
	}
	for n, t := range lm.timeAt {
		idle += t * float64(max(0, floor-n))
	}
	return float64(misses) / float64(len(lm.hits)), idle
}

// perCall is coldAndIdle per call at a floor and a keep-alive, with
// horizon, in time: the share of the counted calls that find no warm
// sandbox and the idle sandbox-seconds per call, for calls of mean
// duration meanDuration.
func (lm *levelModel) perCall(floor int, keepAlive, meanDuration, horizon time.Duration) (cold, idle float64) {
	unit := max(meanDuration, time.Millisecond).Seconds()
	cold, idle = lm.coldAndIdle(floor, keepAlive.Seconds()/unit, horizon.Seconds()/unit)
	return cold, idle / float64(len(lm.hits)) * unit
}

// coldFraction is coldFractionChoice's choice: a floor and a keep-alive,
// and by the level model the share of the calls that find no warm sandbox
// under them (see coldAndIdle) and the idle sandbox-seconds per call.
type coldFraction struct {
	floor      int
	keepAlive  time.Duration
	cold, idle float64
}

// coldFractionChoice is the floor and keep-alive that keep a pool's cold
// starts within allowed (a share of its calls) at the least idle
// sandbox-time, by levelModel at m calls in flight on average, batch at a
// time, each of mean duration meanDuration, counting only the calls whose
// sandbox would have been idle less than horizon (see coldAndIdle): among
// no floor and the floors that cover the 0.5, 0.9, 0.99 and 0.999
// quantiles of the calls in flight (Poisson), and keep-alives from none
// to ten minutes, up to horizon. When none meets allowed, the one with
// the fewest cold starts. It returns the choice with its cold share and
// idle per call (see perCall). draws are newLevelModel's.
func coldFractionChoice(m float64, batch int, meanDuration, horizon time.Duration, allowed float64, draws []float64) coldFraction {
	keepAlives := [...]time.Duration{0, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute}
	lm := newLevelModel(m, batch, draws)
	floors := []int{0}
	for _, q := range [...]float64{0.5, 0.9, 0.99, 0.999} {
		if f := poissonQuantile(m, q); !slices.Contains(floors, f) {
			floors = append(floors, f)
		}
	}
	var best coldFraction
	bestCold, bestIdle, met := math.Inf(1), math.Inf(1), false
	for _, f := range floors {
		for _, k := range keepAlives {
			if k > horizon {
				break
			}
			cold, idle := lm.perCall(f, k, meanDuration, horizon)
			ok := cold <= allowed
			better := false
			switch {
			case ok && !met:
				better = true
			case ok:
				better = idle < bestIdle
			case !met:
				better = cold < bestCold || cold == bestCold && idle < bestIdle
			}
			if better {
				best, bestCold, bestIdle, met = coldFraction{floor: f, keepAlive: k, cold: cold, idle: idle}, cold, idle, ok
			}
		}
	}
	return best
}

// departures is a min-heap of departure times, typed: newLevelModel
// pushes and pops one per call, and container/heap would box each.
type departures []float64

// push adds departure time t.
func (d *departures) push(t float64) {
	h := append(*d, t)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if h[parent] <= h[i] {
			break
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
	*d = h
}

// pop removes and returns the earliest departure time (d is not empty).
func (d *departures) pop() float64 {
	h := *d
	top, last := h[0], len(h)-1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		m := 2*i + 1
		if m >= len(h) {
			break
		}
		if r := m + 1; r < len(h) && h[r] < h[m] {
			m = r
		}
		if h[i] <= h[m] {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*d = h
	return top
}

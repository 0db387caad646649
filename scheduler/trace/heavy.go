package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// HeavyOptions shapes a per-minute count trace with the heavy head of the
// Azure Functions 2019 trace: its most popular functions carry almost all
// of a day's invocations. The 1,000 busiest functions of a day of the real
// trace are called 220.6 million times, the busiest 3.15 million times
// (about 36 a second); the day has about 50,000 functions in all.
type HeavyOptions struct {
	// Functions is the number of functions (> 0).
	Functions int
	// Minutes is the trace's length (> 0).
	Minutes int
	// Seed makes the trace reproducible.
	Seed uint64
	// Head is how many of the functions form the head (default
	// min(Functions, 1000)): the function of popularity rank k (1 … Head)
	// is called BusiestPerDay × k^−s times a day, s chosen so that the
	// head is called HeadPerDay times a day in all.
	Head int
	// HeadPerDay is the head's calls a day (default 220.6 million).
	HeadPerDay float64
	// BusiestPerDay is the busiest function's calls a day (default 3.15
	// million).
	BusiestPerDay float64
}

// Defaults of HeavyOptions: the head of a day of the Azure 2019 trace.
const (
	DefaultHead          = 1000
	DefaultHeadPerDay    = 220.6e6
	DefaultBusiestPerDay = 3.15e6
)

// CountedFunction is one function of a per-minute count trace, as the
// Azure 2019 files give it.
type CountedFunction struct {
	// Owner, App and Function are the function's (hash) names.
	Owner, App, Function string
	// Trigger is what invokes it.
	Trigger string
	// Counts are its invocations per minute.
	Counts []int32
	// DurationMs are the percentiles of its duration in ms, at the
	// quantiles of the 2019 duration file (0, 1, 25, 50, 75, 99, 100).
	DurationMs [len(durationPercentiles)]float64
	// MemoryMB is its app's memory.
	MemoryMB float64
}

// heavyShape is a HeavyOptions with its defaults and its exponent.
type heavyShape struct {
	HeavyOptions
	exponent float64 // s of the head's power law
	headMin  float64 // calls a day of the head's last function
}

// heavyShapeOf checks opts, fills in the defaults and solves the head's
// exponent.
func heavyShapeOf(opts HeavyOptions) (heavyShape, error) {
	if opts.Functions <= 0 || opts.Minutes <= 0 {
		return heavyShape{}, fmt.Errorf("heavy trace: functions %d, minutes %d: want both > 0", opts.Functions, opts.Minutes)
	}
	if opts.Head == 0 {
		opts.Head = min(opts.Functions, DefaultHead)
	}
	if opts.HeadPerDay == 0 {
		opts.HeadPerDay = DefaultHeadPerDay
	}
	if opts.BusiestPerDay == 0 {
		opts.BusiestPerDay = DefaultBusiestPerDay
	}
	if opts.Head < 1 || opts.Head > opts.Functions {
		return heavyShape{}, fmt.Errorf("heavy trace: head %d of %d functions: want 1 … functions", opts.Head, opts.Functions)
	}
	h := float64(opts.Head)
	if opts.BusiestPerDay <= 0 || opts.HeadPerDay < opts.BusiestPerDay || opts.HeadPerDay > h*opts.BusiestPerDay {
		return heavyShape{}, fmt.Errorf("heavy trace: head of %d functions called %g times a day, the busiest %g: want busiest > 0 and busiest ≤ head calls ≤ %d × busiest",
			opts.Head, opts.HeadPerDay, opts.BusiestPerDay, opts.Head)
	}
	sum := func(s float64) float64 {
		t := 0.0
		for k := 1; k <= opts.Head; k++ {
			t += math.Pow(float64(k), -s)
		}
		return t * opts.BusiestPerDay
	}
	lo, hi := 0.0, 1.0
	for sum(hi) > opts.HeadPerDay && hi < 64 {
		hi *= 2
	}
	for range 100 {
		mid := (lo + hi) / 2
		if sum(mid) > opts.HeadPerDay {
			lo = mid
		} else {
			hi = mid
		}
	}
	s := (lo + hi) / 2
	return heavyShape{HeavyOptions: opts, exponent: s, headMin: opts.BusiestPerDay * math.Pow(h, -s)}, nil
}

// Heavy returns the generator of the heavy-head trace opts describes:
// function(i) for i in 0 … Functions−1. Ranks are shuffled over the
// functions (rank r+1 is function perm[r]):
//
//   - the Head most popular functions follow the power law of
//     HeavyOptions, each an HTTP-like Poisson process with a daily cycle
//     (60%) or a queue-like one switching between bursts and silences
//     (40%, on a quarter to three quarters of the time);
//   - the other functions are the long tail of Synthetic: calls a day
//     log-normal (log10 ~ N(1.6, 1.77)) below the head's least popular,
//     16% of them timers, 50% daily-cycle Poisson, 34% bursty;
//   - durations and memory are drawn as Synthetic draws them.
//
// Per-minute counts are Poisson draws of the minute's rate, so a minute's
// count is exact and a function's day total is its expected one up to
// Poisson noise. Function i draws from its own generator seeded by (Seed,
// i), so the trace is a deterministic function of opts.
func Heavy(opts HeavyOptions) (func(i int) CountedFunction, error) {
	shape, err := heavyShapeOf(opts)
	if err != nil {
		return nil, err
	}
	rank := make([]int, opts.Functions)
	perm := rand.New(rand.NewPCG(opts.Seed, 0x4ea7)).Perm(opts.Functions)
	for r, i := range perm {
		rank[i] = r + 1
	}
	return func(i int) CountedFunction { return shape.function(i, rank[i]) }, nil
}

// hashName is a 64-hex-digit name like the 2019 trace's anonymised ones.
func hashName(kind string, seed uint64, n int) string {
	h := splitmix64(seed ^ uint64(n)*0x9e3779b97f4a7c15 ^ uint64(len(kind))<<56)
	var b []byte
	for range 4 {
		b = fmt.Appendf(b, "%016x", h)
		h = splitmix64(h)
	}
	return string(b)
}

// splitmix64 is the SplitMix64 finaliser.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// function generates function i, of popularity rank r.
func (h heavyShape) function(i, r int) CountedFunction {
	rng := rand.New(rand.NewPCG(h.Seed, uint64(i)+1))
	app := i / 3
	f := CountedFunction{
		Owner:    hashName("owner", h.Seed, app/4),
		App:      hashName("app", h.Seed, app),
		Function: hashName("function", h.Seed, i),
		Counts:   make([]int32, h.Minutes),
	}
	// Memory is the app's: drawn from the app's own generator.
	appRng := rand.New(rand.NewPCG(h.Seed, uint64(app)|1<<62))
	f.MemoryMB = math.Round(clamp(170*math.Exp(0.6*appRng.NormFloat64()), 64, 2048))
	median := clamp(0.5*math.Exp(1.4*rng.NormFloat64()), 0.02, 60) * 1000
	for k, z := range [...]float64{-3.5, -2.326, -0.674, 0, 0.674, 2.326, 3.5} {
		f.DurationMs[k] = math.Round(median*math.Exp(0.4*z)*1000) / 1000
	}
	days := float64(h.Minutes) / 1440
	var perDay float64
	u := rng.Float64()
	switch {
	case r <= h.Head:
		perDay = h.BusiestPerDay * math.Pow(float64(r), -h.exponent)
		u = 0.16 + 0.84*u // the head has no timers
	default:
		perDay = h.headMin
		for range 100 {
			if perDay = math.Pow(10, 1.6+1.77*rng.NormFloat64()); perDay < h.headMin {
				break
			}
		}
		perDay = math.Min(perDay, h.headMin)
	}
	rate := make([]float64, h.Minutes) // expected calls per minute
	switch {
	case u < 0.16:
		f.Trigger = patternTimer
		timerMinutes(rate, rng)
	case u < 0.66:
		f.Trigger = patternDiurnal
		diurnalRate(rate, perDay*days, rng)
	default:
		f.Trigger = patternBursty
		burstyRate(rate, perDay*days, r <= h.Head, rng)
	}
	for m, lambda := range rate {
		f.Counts[m] = int32(min(poisson(lambda, rng), math.MaxInt32))
	}
	return f
}

// timerMinutes sets rate to one call at each firing of a timer of a random
// period and phase (its draw of one is then certain).
func timerMinutes(rate []float64, rng *rand.Rand) {
	period := timerPeriod(rng)
	for m := rng.IntN(period); m < len(rate); m += period {
		rate[m] = math.Inf(1)
	}
}

// diurnalRate spreads total expected calls over the minutes along a daily
// sine of random amplitude and phase.
func diurnalRate(rate []float64, total float64, rng *rand.Rand) {
	amp := 0.3 + 0.6*rng.Float64()
	phase := rng.Float64() * 1440
	for m := range rate {
		rate[m] = 1 + amp*math.Sin(2*math.Pi*(float64(m)+0.5-phase)/1440)
	}
	normalise(rate, total)
}

// burstyRate spreads total expected calls over bursts: on and off periods
// of geometric lengths (a mean burst of 2 to 30 minutes, on 5% to 50% of
// the time, 25% to 75% for a function of the head), each burst minute
// log-normally louder or quieter (σ 0.5); a trace too short for any burst
// gets one minute of it.
func burstyRate(rate []float64, total float64, head bool, rng *rand.Rand) {
	meanOn := 2 + 28*rng.Float64()
	onShare := 0.05 + 0.45*rng.Float64()
	if head {
		onShare = 0.25 + onShare
	}
	meanOff := meanOn * (1/onShare - 1)
	on := rng.Float64() < onShare
	for m := range rate {
		if on {
			rate[m] = math.Exp(0.5 * rng.NormFloat64())
		}
		if (on && rng.Float64() < 1/meanOn) || (!on && rng.Float64() < 1/meanOff) {
			on = !on
		}
	}
	if !slices.ContainsFunc(rate, func(r float64) bool { return r > 0 }) {
		rate[rng.IntN(len(rate))] = 1 // a short trace: one burst, not silence
	}
	normalise(rate, total)
}

// normalise scales rate to sum to total (leaves it when it sums to zero).
func normalise(rate []float64, total float64) {
	sum := 0.0
	for _, r := range rate {
		sum += r
	}
	if sum == 0 {
		return
	}
	for m := range rate {
		rate[m] *= total / sum
	}
}

// poisson draws a Poisson variate of mean lambda: by multiplication under
// 10, by Hörmann's transformed rejection (PTRS) above; +Inf is a certain
// single call.
func poisson(lambda float64, rng *rand.Rand) float64 {
	switch {
	case math.IsInf(lambda, 1):
		return 1
	case lambda <= 0:
		return 0
	case lambda < 10:
		limit, p, k := math.Exp(-lambda), rng.Float64(), 0.0
		for p > limit {
			p *= rng.Float64()
			k++
		}
		return k
	}
	slam, loglam := math.Sqrt(lambda), math.Log(lambda)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := rng.Float64() - 0.5
		v := rng.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lambda + 0.43)
		if us >= 0.07 && v <= vr {
			return k
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invAlpha)-math.Log(a/(us*us)+b) <= -lambda+k*loglam-lg {
			return k
		}
	}
}

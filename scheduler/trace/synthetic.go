package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// SyntheticOptions sizes a synthetic trace.
type SyntheticOptions struct {
	// Functions is the number of functions (> 0).
	Functions int
	// Minutes is the trace's length (> 0).
	Minutes int
	// Seed makes the trace reproducible.
	Seed uint64
	// MaxPerMinute caps a function's mean rate (default 100 invocations per
	// minute) so that a day of a thousand functions stays a few million
	// invocations.
	MaxPerMinute float64
}

// The arrival patterns of synthetic functions.
const (
	patternTimer   = "timer" // fires every period, with a few seconds of jitter
	patternDiurnal = "http"  // Poisson with a daily cycle in its rate
	patternBursty  = "queue" // renewal process with heavy-tailed inter-arrival times
)

// timerPeriods are the timer periods in minutes and their weights.
var timerPeriods = [...]struct {
	minutes int
	weight  float64
}{{1, 0.15}, {2, 0.05}, {5, 0.25}, {10, 0.1}, {15, 0.15}, {30, 0.1}, {60, 0.15}, {240, 0.05}}

// Synthetic generates a trace shaped on the published characteristics of the
// Azure Functions workload (Shahrad et al., ATC'20):
//
//   - popularity is heavy-tailed: a function's daily invocations are
//     log-normal (log10 ~ N(1.6, 1.77)), so about 45% of functions are
//     invoked at most once an hour, about 80% at most once a minute, and a
//     few per cent are very hot (capped at MaxPerMinute);
//   - about 16% of functions are timer-driven (periods of 1 minute to 4
//     hours, a few seconds of jitter), about half are HTTP-like Poisson
//     arrivals whose rate follows a daily cycle, the rest are queue-like
//     renewal processes with log-normal inter-arrival times of coefficient
//     of variation 2-8 (bursts and long silences);
//   - mean durations are log-normal with a median of 0.5 s (half the
//     functions run under a second on average, a few run a minute), each
//     invocation varying log-normally (σ 0.4) around its function's median;
//   - memory is log-normal with a median of 170 MB; cold starts follow
//     ColdStartFor(memory) with ±20% log-normal noise.
//
// Each function draws from its own generator seeded by (Seed, index), so
// the first n functions of a larger trace are the functions of a smaller one.
func Synthetic(opts SyntheticOptions) (*Trace, error) {
	s, err := OpenSynthetic(opts)
	if err != nil {
		return nil, err
	}
	t := &Trace{Source: s.source, Minutes: opts.Minutes, Functions: make([]Function, opts.Functions)}
	for i := range t.Functions {
		t.Functions[i] = s.generate(i)
	}
	return t, nil
}

// SyntheticStream is the trace Synthetic generates as a Stream: it keeps
// each function's description and number of invocations, and generates its
// invocations again when they are asked for, so that it holds one
// function's invocations per Arrivals in use.
type SyntheticStream struct {
	source    string
	opts      SyntheticOptions
	functions []Function
	totals    []int
}

// OpenSynthetic returns the trace Synthetic(opts) generates as a Stream.
func OpenSynthetic(opts SyntheticOptions) (*SyntheticStream, error) {
	if opts.Functions <= 0 {
		return nil, fmt.Errorf("synthetic trace: functions %d, want > 0", opts.Functions)
	}
	if opts.Minutes <= 0 {
		return nil, fmt.Errorf("synthetic trace: minutes %d, want > 0", opts.Minutes)
	}
	if opts.MaxPerMinute <= 0 {
		opts.MaxPerMinute = 100
	}
	s := &SyntheticStream{
		source:    fmt.Sprintf("synthetic (functions %d, minutes %d, seed %d)", opts.Functions, opts.Minutes, opts.Seed),
		opts:      opts,
		functions: make([]Function, opts.Functions),
		totals:    make([]int, opts.Functions),
	}
	for i := range s.functions {
		f := s.generate(i)
		s.totals[i] = len(f.Invocations)
		f.Invocations = nil
		s.functions[i] = f
	}
	return s, nil
}

// generate generates function i with its invocations.
func (s *SyntheticStream) generate(i int) Function {
	return syntheticFunction(i, s.opts, rand.New(rand.NewPCG(s.opts.Seed, uint64(i)+1)))
}

// Source names the generator's parameters.
func (s *SyntheticStream) Source() string { return s.source }

// Minutes is the trace's length.
func (s *SyntheticStream) Minutes() int { return s.opts.Minutes }

// Len is the number of functions.
func (s *SyntheticStream) Len() int { return len(s.functions) }

// Function returns function i and its number of invocations.
func (s *SyntheticStream) Function(i int) (Function, int) { return s.functions[i], s.totals[i] }

// Arrivals generates function i again and hands out its invocations.
func (s *SyntheticStream) Arrivals(i int) Arrivals {
	return &sliceArrivals{invs: s.generate(i).Invocations, minutes: s.opts.Minutes}
}

func syntheticFunction(i int, opts SyntheticOptions, rng *rand.Rand) Function {
	f := Function{
		Name: fmt.Sprintf("fn-%04d", i),
		App:  fmt.Sprintf("app-%04d", i/3),
	}
	f.MemoryMB = clamp(170*math.Exp(0.6*rng.NormFloat64()), 64, 2048)
	f.ColdStart = time.Duration(float64(ColdStartFor(f.MemoryMB)) * math.Exp(0.2*rng.NormFloat64()))
	medianDuration := clamp(0.5*math.Exp(1.4*rng.NormFloat64()), 0.02, 60)
	horizon := float64(opts.Minutes) * 60
	var starts []float64
	switch u := rng.Float64(); {
	case u < 0.16:
		f.Trigger = patternTimer
		starts = timerArrivals(horizon, rng)
	case u < 0.66:
		f.Trigger = patternDiurnal
		starts = diurnalArrivals(horizon, dailyRate(opts, rng)/86400, rng)
	default:
		f.Trigger = patternBursty
		starts = burstyArrivals(horizon, dailyRate(opts, rng)/86400, rng)
	}
	f.Invocations = make([]Invocation, len(starts))
	for k, s := range starts {
		d := clamp(medianDuration*math.Exp(0.4*rng.NormFloat64()), 0.001, 600)
		f.Invocations[k] = Invocation{Start: s, Duration: float32(d)}
	}
	return f
}

// dailyRate draws a function's invocations per day.
func dailyRate(opts SyntheticOptions, rng *rand.Rand) float64 {
	return math.Pow(10, clamp(1.6+1.77*rng.NormFloat64(), -0.5, math.Log10(opts.MaxPerMinute*1440)))
}

// timerPeriod draws a timer's period in minutes by the weights of
// timerPeriods.
func timerPeriod(rng *rand.Rand) int {
	u := rng.Float64()
	for _, p := range timerPeriods {
		if u < p.weight {
			return p.minutes
		}
		u -= p.weight
	}
	return timerPeriods[len(timerPeriods)-1].minutes
}

func timerArrivals(horizon float64, rng *rand.Rand) []float64 {
	step := float64(timerPeriod(rng)) * 60
	phase := rng.Float64() * step
	var starts []float64
	for t := phase; t < horizon; t += step {
		s := t + math.Abs(rng.NormFloat64())*2
		if s < horizon {
			starts = append(starts, s)
		}
	}
	return starts
}

// diurnalArrivals is a Poisson process of mean rate perSecond whose rate
// follows a daily sine of random amplitude and phase (drawn by thinning).
func diurnalArrivals(horizon, perSecond float64, rng *rand.Rand) []float64 {
	amp := 0.3 + 0.6*rng.Float64()
	phase := rng.Float64() * 86400
	peak := perSecond * (1 + amp)
	var starts []float64
	for t := rng.ExpFloat64() / peak; t < horizon; t += rng.ExpFloat64() / peak {
		rate := perSecond * (1 + amp*math.Sin(2*math.Pi*(t-phase)/86400))
		if rng.Float64()*peak < rate {
			starts = append(starts, t)
		}
	}
	return starts
}

// burstyArrivals is a renewal process of mean rate perSecond with
// log-normal inter-arrival times of σ 1.4-2 (coefficient of variation
// about 2.5 to 7), started at a random point of its first gap.
func burstyArrivals(horizon, perSecond float64, rng *rand.Rand) []float64 {
	sigma := 1.4 + 0.6*rng.Float64()
	mu := math.Log(1/perSecond) - sigma*sigma/2
	var starts []float64
	t := rng.Float64() * math.Exp(mu+sigma*rng.NormFloat64())
	for t < horizon {
		starts = append(starts, t)
		t += math.Exp(mu + sigma*rng.NormFloat64())
	}
	return starts
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// sortInvocations orders invocations by start time.
func sortInvocations(invs []Invocation) {
	slices.SortFunc(invs, func(a, b Invocation) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
}

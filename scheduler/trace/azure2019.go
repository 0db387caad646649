package trace

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The file name patterns of the Azure Functions 2019 trace (one file of each
// per day, dDD = d01 … d14).
const (
	azure2019Invocations = "invocations_per_function_md.anon.d*.csv"
	azure2019Durations   = "function_durations_percentiles.anon.d*.csv"
	azure2019Memory      = "app_memory_percentiles.anon.d*.csv"
)

// durationPercentiles are the duration columns of the 2019 trace (in ms)
// and the quantile each one is.
var durationPercentiles = [...]struct {
	column string
	q      float64
}{
	{"percentile_Average_0", 0}, {"percentile_Average_1", 0.01}, {"percentile_Average_25", 0.25},
	{"percentile_Average_50", 0.5}, {"percentile_Average_75", 0.75}, {"percentile_Average_99", 0.99},
	{"percentile_Average_100", 1},
}

// DefaultMemoryMB is the memory assumed for a function whose trace does not
// give it.
const DefaultMemoryMB = 256

// ReadOptions limits what a reader keeps of a trace.
type ReadOptions struct {
	// Minutes keeps the first Minutes minutes (0: the whole trace).
	Minutes int
	// Functions keeps a uniform random sample of that many functions (0:
	// all of them).
	Functions int
	// Seed chooses the sample and spreads per-minute counts inside their
	// minutes.
	Seed uint64
}

// IsAzure2019 reports whether dir holds the Azure Functions 2019 trace.
func IsAzure2019(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, azure2019Invocations))
	return len(m) > 0
}

// ReadAzure2019 reads the Azure Functions 2019 trace from dir: per day dDD,
// invocations_per_function_md.anon.dDD.csv (HashOwner, HashApp,
// HashFunction, Trigger, then one column per minute 1 … 1440),
// function_durations_percentiles.anon.dDD.csv (per function, percentiles
// of its average duration in ms) and app_memory_percentiles.anon.dDD.csv
// (per app, AverageAllocatedMb). Days follow each other in file-name order.
// The functions are those of the first day (a sample of them when
// opts.Functions is set); a function missing from a later day has no
// invocations that day. The n invocations of a minute start at uniform
// random points of it, and each takes a duration drawn from the function's
// duration percentiles (interpolated linearly between them; 1 s when the
// function has none). Memory missing from the trace is DefaultMemoryMB.
// Cold starts come from ColdStartFor(memory). It holds every invocation:
// OpenAzure2019 gives the same ones a minute at a time.
func ReadAzure2019(dir string, opts ReadOptions) (*Trace, error) {
	s, err := OpenAzure2019(dir, opts)
	if err != nil {
		return nil, err
	}
	return Collect(s), nil
}

// Azure2019 is the Azure Functions 2019 trace as a Stream: per function,
// its counts per minute, expanded into invocations a minute at a time.
type Azure2019 struct {
	source    string
	minutes   int
	seed      uint64
	functions []Function
	counts    [][]int32 // per function and minute; nil for a function never invoked
	totals    []int
	durations []durationQuantiles
}

// OpenAzure2019 reads the Azure Functions 2019 trace from dir as
// ReadAzure2019 does, keeping per function only its counts per minute: its
// memory is 4 bytes per function and minute, whatever the number of
// invocations.
func OpenAzure2019(dir string, opts ReadOptions) (*Azure2019, error) {
	days, err := filepath.Glob(filepath.Join(dir, azure2019Invocations))
	if err != nil || len(days) == 0 {
		return nil, fmt.Errorf("azure 2019 trace in %s: no file %s", dir, azure2019Invocations)
	}
	sort.Strings(days)
	if opts.Minutes > 0 {
		days = days[:min(len(days), (opts.Minutes+1439)/1440)]
	}
	keys, err := read2019Keys(days[0])
	if err != nil {
		return nil, err
	}
	if opts.Functions > 0 && opts.Functions < len(keys) {
		rng := rand.New(rand.NewPCG(opts.Seed, 2019))
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		keys = keys[:opts.Functions]
		sort.Strings(keys)
	}
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	minutes := 1440 * len(days)
	if opts.Minutes > 0 {
		minutes = min(minutes, opts.Minutes)
	}
	counts := make([][]int32, len(keys))
	triggers := make([]string, len(keys))
	for d, path := range days {
		if err := read2019Counts(path, d, minutes, index, counts, triggers); err != nil {
			return nil, err
		}
	}
	durations, err := read2019Durations(dir, index)
	if err != nil {
		return nil, err
	}
	memory, err := read2019Memory(dir)
	if err != nil {
		return nil, err
	}
	s := &Azure2019{source: "azure-2019 " + dir, minutes: minutes, seed: opts.Seed, functions: make([]Function, len(keys)),
		counts: counts, totals: make([]int, len(keys)), durations: durations}
	for i, k := range keys {
		parts := strings.SplitN(k, "/", 3)
		f := Function{Name: k, App: parts[0] + "/" + parts[1], Trigger: triggers[i], MemoryMB: DefaultMemoryMB}
		if mb, ok := memory[f.App]; ok && mb > 0 {
			f.MemoryMB = mb
		}
		f.ColdStart = ColdStartFor(f.MemoryMB)
		s.functions[i] = f
		for _, c := range counts[i] {
			s.totals[i] += int(c)
		}
	}
	return s, nil
}

// Source names the trace's directory.
func (s *Azure2019) Source() string { return s.source }

// Minutes is the trace's length.
func (s *Azure2019) Minutes() int { return s.minutes }

// Len is the number of functions.
func (s *Azure2019) Len() int { return len(s.functions) }

// Function returns function i and its number of invocations.
func (s *Azure2019) Function(i int) (Function, int) { return s.functions[i], s.totals[i] }

// Arrivals expands function i's counts: the n invocations of a minute
// start at uniform random points of it, each with a duration drawn from the
// function's percentiles, from a generator seeded by (seed, i).
func (s *Azure2019) Arrivals(i int) Arrivals {
	return &countArrivals{counts: s.counts[i], minutes: s.minutes, q: s.durations[i], rng: rand.New(rand.NewPCG(s.seed, uint64(i)+1))}
}

// countArrivals expands one function's counts a minute at a time.
type countArrivals struct {
	counts  []int32
	minutes int
	minute  int
	q       durationQuantiles
	rng     *rand.Rand
	sorter  minuteSorter
}

func (a *countArrivals) Next(buf []Invocation) ([]Invocation, bool) {
	out := buf[:0]
	if a.minute >= a.minutes {
		return out, false
	}
	m := a.minute
	a.minute++
	if a.counts == nil {
		return out, true
	}
	for range a.counts[m] {
		out = append(out, Invocation{
			Start:    float64(m)*60 + a.rng.Float64()*60,
			Duration: float32(a.q.at(a.rng.Float64()) / 1000),
		})
	}
	a.sorter.sort(out, float64(m)*60)
	return out, true
}

// minuteSorter sorts the invocations of a minute by start, stably: a pass
// into as many buckets as invocations (the starts are uniform in the
// minute) then an insertion sort, linear on average.
type minuteSorter struct {
	tmp    []Invocation
	counts []int32
}

// sort sorts invs, which start in the minute from base.
func (s *minuteSorter) sort(invs []Invocation, base float64) {
	n := len(invs)
	if n > 12 {
		s.tmp = slices.Grow(s.tmp[:0], n)[:n]
		s.counts = slices.Grow(s.counts[:0], n+1)[:n+1]
		clear(s.counts)
		bucket := func(inv *Invocation) int { return min(max(int((inv.Start-base)/60*float64(n)), 0), n-1) }
		for k := range invs {
			s.counts[bucket(&invs[k])+1]++
		}
		for b := 1; b <= n; b++ {
			s.counts[b] += s.counts[b-1]
		}
		for k := range invs {
			b := bucket(&invs[k])
			s.tmp[s.counts[b]] = invs[k]
			s.counts[b]++
		}
		copy(invs, s.tmp)
	}
	for k := 1; k < n; k++ {
		for j := k; j > 0 && invs[j].Start < invs[j-1].Start; j-- {
			invs[j], invs[j-1] = invs[j-1], invs[j]
		}
	}
}

// key2019 names a function of the 2019 trace: owner/app/function hashes.
func key2019(tb *table, rec []string) string {
	return tb.field(rec, "HashOwner") + "/" + tb.field(rec, "HashApp") + "/" + tb.field(rec, "HashFunction")
}

// countColumns are the columns of a 2019 invocation-count file.
var countColumns = []string{"HashOwner", "HashApp", "HashFunction", "Trigger", "1"}

func read2019Keys(path string) ([]string, error) {
	seen := map[string]bool{}
	var keys []string
	err := eachRecord(path, countColumns, func(tb *table, rec []string) error {
		k := key2019(tb, rec)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no functions", path)
	}
	sort.Strings(keys)
	return keys, nil
}

// read2019Counts adds day d's counts of the indexed functions.
func read2019Counts(path string, d, minutes int, index map[string]int, counts [][]int32, triggers []string) error {
	return eachRecord(path, countColumns, func(tb *table, rec []string) error {
		first := tb.columns["1"]
		i, ok := index[key2019(tb, rec)]
		if !ok {
			return nil
		}
		if triggers[i] == "" {
			triggers[i] = tb.field(rec, "Trigger")
		}
		if counts[i] == nil {
			counts[i] = make([]int32, minutes)
		}
		for m := 0; m < 1440 && first+m < len(rec); m++ {
			at := d*1440 + m
			if at >= minutes {
				break
			}
			n, err := strconv.ParseInt(strings.TrimSpace(rec[first+m]), 10, 32)
			if err != nil || n < 0 {
				line, _ := tb.r.FieldPos(first + m)
				return fmt.Errorf("%s:%d: minute %d: %q is not a count >= 0", path, line, m+1, rec[first+m])
			}
			counts[i][at] += int32(n)
		}
		return nil
	})
}

// durationQuantiles is a function's duration distribution as quantiles in ms.
type durationQuantiles []float64

// at returns the duration at quantile u, interpolated linearly.
func (q durationQuantiles) at(u float64) float64 {
	if q == nil {
		return 1000
	}
	for k := 1; k < len(durationPercentiles); k++ {
		lo, hi := durationPercentiles[k-1], durationPercentiles[k]
		if u <= hi.q {
			w := (u - lo.q) / (hi.q - lo.q)
			return max(q[k-1]+w*(q[k]-q[k-1]), 0.1)
		}
	}
	return q[len(q)-1]
}

// mean is the mean of the distribution at samples from (1 s when q is
// nil): the integral of its piecewise-linear quantile function.
func (q durationQuantiles) mean() float64 {
	if q == nil {
		return 1000
	}
	m := 0.0
	for k := 1; k < len(durationPercentiles); k++ {
		m += (q[k-1] + q[k]) / 2 * (durationPercentiles[k].q - durationPercentiles[k-1].q)
	}
	return m
}

// read2019Durations returns the duration quantiles of the indexed functions
// from the first day's file that has them.
func read2019Durations(dir string, index map[string]int) ([]durationQuantiles, error) {
	files, _ := filepath.Glob(filepath.Join(dir, azure2019Durations))
	sort.Strings(files)
	out := make([]durationQuantiles, len(index))
	cols := []string{"HashOwner", "HashApp", "HashFunction"}
	for _, p := range durationPercentiles {
		cols = append(cols, p.column)
	}
	for _, path := range files {
		err := eachRecord(path, cols, func(tb *table, rec []string) error {
			i, ok := index[key2019(tb, rec)]
			if !ok || out[i] != nil {
				return nil
			}
			q := make(durationQuantiles, len(durationPercentiles))
			for k, p := range durationPercentiles {
				var err error
				if q[k], err = tb.float(rec, p.column); err != nil {
					return err
				}
				if k > 0 && q[k] < q[k-1] {
					q[k] = q[k-1] // rounding in the trace can break monotonicity
				}
			}
			out[i] = q
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// read2019Memory returns AverageAllocatedMb per owner/app, from the first
// day's file that has it.
func read2019Memory(dir string) (map[string]float64, error) {
	files, _ := filepath.Glob(filepath.Join(dir, azure2019Memory))
	sort.Strings(files)
	out := map[string]float64{}
	for _, path := range files {
		err := eachRecord(path, []string{"HashOwner", "HashApp", "AverageAllocatedMb"}, func(tb *table, rec []string) error {
			app := tb.field(rec, "HashOwner") + "/" + tb.field(rec, "HashApp")
			if _, ok := out[app]; ok {
				return nil
			}
			mb, err := tb.float(rec, "AverageAllocatedMb")
			if err != nil {
				return err
			}
			out[app] = mb
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

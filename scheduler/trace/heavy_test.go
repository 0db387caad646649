package trace

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHeavyShape checks the generator against the shape it is asked for:
// the head's calls and its busiest function, a tail below the head, timers
// only in the tail.
func TestHeavyShape(t *testing.T) {
	tests := []struct {
		name               string
		opts               HeavyOptions
		head               int
		headCalls, busiest float64
	}{
		{"the real day's head", HeavyOptions{Functions: 1000, Minutes: 1440, Seed: 1}, 1000, DefaultHeadPerDay, DefaultBusiestPerDay},
		{"head and tail, half a day", HeavyOptions{Functions: 3000, Minutes: 720, Seed: 2}, 1000, DefaultHeadPerDay / 2, DefaultBusiestPerDay / 2},
		{"a small head", HeavyOptions{Functions: 50, Minutes: 1440, Seed: 3, Head: 10, HeadPerDay: 1e5, BusiestPerDay: 3e4}, 10, 1e5, 3e4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen, err := Heavy(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			calls := make([]float64, tt.opts.Functions)
			timers := 0
			for i := range calls {
				f := gen(i)
				for _, c := range f.Counts {
					calls[i] += float64(c)
				}
				if len(f.Counts) != tt.opts.Minutes || f.MemoryMB < 64 || f.MemoryMB > 2048 || !slices.IsSorted(f.DurationMs[:]) {
					t.Fatalf("function %d: %d minutes, %v MB, durations %v", i, len(f.Counts), f.MemoryMB, f.DurationMs)
				}
				if f.Trigger == patternTimer {
					timers++
				}
			}
			slices.SortFunc(calls, func(a, b float64) int { return cmp.Compare(b, a) })
			var headCalls float64
			for _, c := range calls[:tt.head] {
				headCalls += c
			}
			tail := len(calls) - tt.head
			if math.Abs(headCalls-tt.headCalls) > 0.01*tt.headCalls {
				t.Errorf("head called %.0f times, want %.0f ± 1%%", headCalls, tt.headCalls)
			}
			if math.Abs(calls[0]-tt.busiest) > 0.02*tt.busiest {
				t.Errorf("busiest called %.0f times, want %.0f ± 2%%", calls[0], tt.busiest)
			}
			if (tail == 0) != (timers == 0) {
				t.Errorf("%d timers among %d functions of the tail: want some when there is a tail, none in the head", timers, tail)
			}
			if tail > 0 && calls[tt.head] > 1.1*calls[tt.head-1] {
				t.Errorf("tail's busiest called %.0f times, above the head's least (%.0f)", calls[tt.head], calls[tt.head-1])
			}
		})
	}
}

func TestHeavyRejects(t *testing.T) {
	for _, o := range []HeavyOptions{
		{Functions: 0, Minutes: 10},
		{Functions: 10, Minutes: 0},
		{Functions: 10, Minutes: 10, Head: 11},
		{Functions: 10, Minutes: 10, HeadPerDay: 100, BusiestPerDay: 200},  // the busiest above the head
		{Functions: 10, Minutes: 10, HeadPerDay: 5000, BusiestPerDay: 100}, // ten functions cannot make it
	} {
		if _, err := Heavy(o); err == nil {
			t.Errorf("Heavy(%+v) accepted", o)
		}
	}
}

// TestWriteAzure2019RoundTrip writes a heavy trace in the 2019 format and
// reads it back, whole and a minute at a time.
func TestWriteAzure2019RoundTrip(t *testing.T) {
	opts := HeavyOptions{Functions: 12, Minutes: 1500, Seed: 5, Head: 4, HeadPerDay: 4e4, BusiestPerDay: 2e4}
	gen, err := Heavy(opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum, err := WriteAzure2019(dir, opts.Minutes, opts.Functions, gen)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Days != 2 || sum.Functions != 12 {
		t.Errorf("summary %+v, want 2 days of 12 functions", sum)
	}
	s, err := Open(dir, ReadOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 12 || s.Minutes() != 2880 {
		t.Fatalf("%d functions over %d minutes, want 12 over 2880 (two whole days)", s.Len(), s.Minutes())
	}
	byName := map[string]CountedFunction{}
	for i := range opts.Functions {
		f := gen(i)
		byName[f.Owner+"/"+f.App+"/"+f.Function] = f
	}
	var total int64
	for i := range s.Len() {
		f, n := s.Function(i)
		want, ok := byName[f.Name]
		if !ok {
			t.Fatalf("function %s was not written", f.Name)
		}
		if f.Trigger != want.Trigger || f.MemoryMB != want.MemoryMB || f.ColdStart != ColdStartFor(want.MemoryMB) {
			t.Errorf("%s: trigger %s memory %v, want %s %v", f.Name, f.Trigger, f.MemoryMB, want.Trigger, want.MemoryMB)
		}
		a := s.Arrivals(i)
		var buf []Invocation
		seen := 0
		for m := 0; ; m++ {
			var ok bool
			if buf, ok = a.Next(buf); !ok {
				if m != 2880 {
					t.Fatalf("%s: %d minutes, want 2880", f.Name, m)
				}
				break
			}
			wantCount := 0
			if m < opts.Minutes {
				wantCount = int(want.Counts[m])
			}
			if len(buf) != wantCount {
				t.Fatalf("%s minute %d: %d invocations, want %d", f.Name, m, len(buf), wantCount)
			}
			for k, inv := range buf {
				ms := float64(inv.Duration) * 1000
				if inv.Start < float64(m)*60 || inv.Start > float64(m+1)*60 || (k > 0 && inv.Start < buf[k-1].Start) ||
					ms < want.DurationMs[0]-1e-3 || ms > want.DurationMs[len(want.DurationMs)-1]+1e-3 {
					t.Fatalf("%s minute %d: invocation %+v out of its minute, order or durations %v", f.Name, m, inv, want.DurationMs)
				}
			}
			seen += len(buf)
		}
		if seen != n {
			t.Errorf("%s: %d invocations streamed, Function says %d", f.Name, seen, n)
		}
		total += int64(n)
	}
	if total != sum.Invocations {
		t.Errorf("%d invocations read, %d written", total, sum.Invocations)
	}
	again, err := ReadAzure2019(dir, ReadOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := Collect(s); !slices.EqualFunc(got.Functions, again.Functions, func(a, b Function) bool { return slices.Equal(a.Invocations, b.Invocations) }) {
		t.Error("streamed invocations differ from those read whole")
	}
}

// TestMinuteSorter compares the sorter with a stable sort, ties included.
func TestMinuteSorter(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var s minuteSorter
	for _, tt := range []struct {
		n     int
		steps float64 // distinct starts in the minute (few: ties)
	}{{0, 60}, {1, 60}, {12, 60}, {13, 4}, {500, 1e12}, {3000, 1e12}, {3000, 10}} {
		invs := make([]Invocation, tt.n)
		for k := range invs {
			invs[k] = Invocation{Start: 600 + math.Floor(rng.Float64()*tt.steps)*60/tt.steps, Duration: float32(k)}
		}
		want := slices.Clone(invs)
		slices.SortStableFunc(want, func(a, b Invocation) int { return cmp.Compare(a.Start, b.Start) })
		s.sort(invs, 600)
		if !slices.Equal(invs, want) {
			t.Errorf("%d invocations, %v distinct starts: not sorted stably", tt.n, tt.steps)
		}
	}
}

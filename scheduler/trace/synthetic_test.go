package trace

import (
	"reflect"
	"testing"
)

func TestSyntheticShape(t *testing.T) {
	tr, err := Synthetic(SyntheticOptions{Functions: 2000, Minutes: 1440, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var rareHour, rareMinute, timers int
	var top, total float64
	perFunction := make([]float64, len(tr.Functions))
	for i := range tr.Functions {
		f := &tr.Functions[i]
		n := len(f.Invocations)
		perFunction[i] = float64(n)
		total += float64(n)
		if n <= 24 {
			rareHour++
		}
		if n <= 1440 {
			rareMinute++
		}
		if f.Trigger == patternTimer {
			timers++
		}
		for k, inv := range f.Invocations {
			if inv.Start < 0 || inv.Start >= 86400 || inv.Duration <= 0 {
				t.Fatalf("%s: invocation %v outside the trace", f.Name, inv)
			}
			if k > 0 && inv.Start < f.Invocations[k-1].Start {
				t.Fatalf("%s: invocations not sorted", f.Name)
			}
		}
	}
	// The top 20% of functions by invocations.
	sorted := append([]float64(nil), perFunction...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j] > sorted[j-1]; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	for _, n := range sorted[:len(sorted)/5] {
		top += n
	}
	n := float64(len(tr.Functions))
	checks := []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"share invoked at most hourly", float64(rareHour) / n, 0.30, 0.55},
		{"share invoked at most once a minute", float64(rareMinute) / n, 0.70, 0.90},
		{"share of timers", float64(timers) / n, 0.12, 0.20},
		{"invocations from the top 20% of functions", top / total, 0.95, 1},
	}
	for _, c := range checks {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s = %.3f, want in [%v, %v]", c.name, c.got, c.lo, c.hi)
		}
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	a, err := Synthetic(SyntheticOptions{Functions: 50, Minutes: 120, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Synthetic(SyntheticOptions{Functions: 20, Minutes: 120, Seed: 7})
	if !reflect.DeepEqual(a.Functions[:20], b.Functions) {
		t.Error("the first functions of a larger trace differ from a smaller trace with the same seed")
	}
	c, _ := Synthetic(SyntheticOptions{Functions: 20, Minutes: 120, Seed: 8})
	if reflect.DeepEqual(c.Functions, b.Functions) {
		t.Error("different seeds gave the same trace")
	}
}

func TestSyntheticRejects(t *testing.T) {
	for _, o := range []SyntheticOptions{{Functions: 0, Minutes: 10}, {Functions: 10, Minutes: 0}} {
		if _, err := Synthetic(o); err == nil {
			t.Errorf("Synthetic(%+v) accepted", o)
		}
	}
}

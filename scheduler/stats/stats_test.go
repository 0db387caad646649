package stats

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	twenty := make([]float64, 20)
	for i := range twenty {
		twenty[i] = float64(i + 1)
	}
	tests := []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"lowest fifth", []float64{5, 1, 4, 2, 3}, 20, 1},
		{"median of five", []float64{5, 1, 4, 2, 3}, 50, 3},
		{"p95 of five is the largest", []float64{5, 1, 4, 2, 3}, 95, 5},
		{"p100", []float64{5, 1, 4, 2, 3}, 100, 5},
		{"p1", []float64{5, 1, 4, 2, 3}, 1, 1},
		{"p95 of twenty is the 19th, not the 20th", twenty, 95, 19},
		{"median of four is the 2nd", []float64{1, 2, 3, 4}, 50, 2},
		{"an observed value, never interpolated", []float64{50, 80, 120}, 95, 120},
		{"one value", []float64{7}, 99, 7},
		{"failures past the rank: +Inf", WithFailures([]float64{10, 20, 30}, 2), 95, math.Inf(1)},
		{"failures below the rank: a success", WithFailures([]float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190}, 1), 95, 190},
	}
	for _, tt := range tests {
		if got := Percentile(tt.xs, tt.p); got != tt.want {
			t.Errorf("%s: Percentile(%v, %g) = %g, want %g", tt.name, tt.xs, tt.p, got, tt.want)
		}
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("Percentile of nothing is not NaN")
	}
	ds := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}
	if got := Sorted(ds, 50); got != 2*time.Millisecond {
		t.Errorf("Sorted median of four durations = %v, want 2ms", got)
	}
	if got := Sorted([]time.Duration(nil), 99); got != 0 {
		t.Errorf("Sorted of nothing = %v, want 0", got)
	}
	if got := Mean([]float64{1, 2, 6}); got != 3 {
		t.Errorf("Mean = %g, want 3", got)
	}
}

func TestMsJSON(t *testing.T) {
	for _, tt := range []struct {
		in   Ms
		want string
	}{{12.5, "12.5"}, {Ms(math.Inf(1)), "null"}} {
		b, err := json.Marshal(struct {
			L Ms `json:"l"`
		}{tt.in})
		if err != nil || string(b) != `{"l":`+tt.want+`}` {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
		var back struct {
			L Ms `json:"l"`
		}
		if err := json.Unmarshal(b, &back); err != nil || back.L != tt.in {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back.L, err, tt.in)
		}
	}
}

package prewarmsim

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// TestKeepAliveFrontierMonotone checks, on a small trace with workflows,
// that a longer keep-alive never means more cold starts, and never less
// idle time, for keepalive-N.
func TestKeepAliveFrontierMonotone(t *testing.T) {
	tr, err := trace.Synthetic(trace.SyntheticOptions{Functions: 60, Minutes: 180, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := twoStagesAndEveryPolicy(t)
	sweep := prewarm.Sweep{Family: "keepalive", Parameter: "keep-alive"}
	for _, d := range []time.Duration{0, 10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour} {
		sweep.Points = append(sweep.Points, prewarm.SweepPoint{Label: d.String(), Policy: prewarm.KeepAlive{Duration: d}})
	}
	rep, err := RunFrontier(context.Background(), Config{Trace: tr, Workflows: []*workflow.Workflow{w}, InstancesPerWorkflow: 3, Seed: 1}, []prewarm.Sweep{sweep})
	if err != nil {
		t.Fatal(err)
	}
	pts := rep.Frontiers[0].Points
	if len(pts) != len(sweep.Points) {
		t.Fatalf("%d points, want %d", len(pts), len(sweep.Points))
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if b.ColdStartRate > a.ColdStartRate {
			t.Errorf("keep-alive %s: cold-start rate %.5f, above %.5f at the shorter %s", b.Label, b.ColdStartRate, a.ColdStartRate, a.Label)
		}
		if b.IdleSandboxSeconds < a.IdleSandboxSeconds {
			t.Errorf("keep-alive %s: %.0f idle sandbox-s, below %.0f at the shorter %s", b.Label, b.IdleSandboxSeconds, a.IdleSandboxSeconds, a.Label)
		}
		if !b.Efficient {
			t.Errorf("keep-alive %s not efficient: %+v", b.Label, b)
		}
	}
	if pts[0].ColdStartRate <= pts[len(pts)-1].ColdStartRate {
		t.Errorf("the sweep does not move: %+v", pts)
	}
}

func TestFrontierIdleAt(t *testing.T) {
	f := Frontier{Family: "f", Points: []FrontierPoint{
		{Label: "a", ColdStartRate: 0.01, IdleSandboxSeconds: 100},
		{Label: "b", ColdStartRate: 0.001, IdleSandboxSeconds: 300},
		{Label: "dominated", ColdStartRate: 0.005, IdleSandboxSeconds: 400},
		{Label: "c", ColdStartRate: 0.1, IdleSandboxSeconds: 50},
	}}
	markEfficient(f.Points)
	if f.Points[2].Efficient || !f.Points[0].Efficient || !f.Points[1].Efficient || !f.Points[3].Efficient {
		t.Fatalf("efficient marks %+v", f.Points)
	}
	tests := []struct {
		c, want float64
	}{
		{0.0005, math.NaN()}, // never that low
		{0.001, 300},
		{math.Sqrt(0.001 * 0.01), 200}, // halfway in log rate
		{0.01, 100},
		{math.Sqrt(0.01 * 0.1), 75},
		{0.5, 50}, // past the last point: its idle
	}
	for _, tt := range tests {
		got := f.IdleAt(tt.c)
		if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9) {
			t.Errorf("IdleAt(%v) = %v, want %v", tt.c, got, tt.want)
		}
	}
}

func TestFrontierVersus(t *testing.T) {
	line := func(family string, scale float64, lowest float64) Frontier {
		f := Frontier{Family: family}
		for _, c := range []float64{0.0005, 0.001, 0.003, 0.01, 0.03} {
			if c >= lowest {
				f.Points = append(f.Points, FrontierPoint{ColdStartRate: c, IdleSandboxSeconds: scale / c})
			}
		}
		markEfficient(f.Points)
		return f
	}
	tests := []struct {
		name      string
		aquatope  Frontier
		wantBelow bool
		wantRatio float64
	}{
		{"below everywhere", line("aquatope", 0.9, 0), true, 0.9},
		{"above everywhere", line("aquatope", 1.1, 0), false, 1.1},
		// Not reaching 0.1% where the other does: infinitely worse there.
		{"short of the low end", line("aquatope", 0.5, 0.003), false, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := versus([]Frontier{line("keepalive", 1, 0), line("oracle", 0.1, 0), tt.aquatope})
			if len(vs) != 1 || vs[0].Family != "keepalive" {
				t.Fatalf("versus %+v, want keepalive alone (not the oracle)", vs)
			}
			if vs[0].Below != tt.wantBelow || math.Abs(float64(vs[0].WorstRatio)-tt.wantRatio) > 1e-9 && !math.IsInf(tt.wantRatio, 1) ||
				math.IsInf(tt.wantRatio, 1) != math.IsInf(float64(vs[0].WorstRatio), 1) {
				t.Errorf("%+v, want below %v, worst ratio %v", vs[0], tt.wantBelow, tt.wantRatio)
			}
		})
	}
}

func TestFrontierReportWriters(t *testing.T) {
	tr, err := trace.Synthetic(trace.SyntheticOptions{Functions: 30, Minutes: 60, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunFrontier(context.Background(), Config{Trace: tr, InstancesPerWorkflow: -1}, prewarm.Sweeps())
	if err == nil {
		t.Fatal("negative instances accepted")
	}
	rep, err = RunFrontier(context.Background(), Config{Trace: tr}, prewarm.Sweeps())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reference == nil || rep.Reference.Policy != "keepalive-10m" {
		t.Errorf("reference %+v, want keepalive-10m", rep.Reference)
	}
	if len(rep.Frontiers) != 4 || len(rep.Versus) != 2 || len(rep.Comparison) != 6 {
		t.Errorf("%d frontiers, %d comparisons with aquatope, %d rows: want 4, 2 (keepalive, hybrid-histogram), 6", len(rep.Frontiers), len(rep.Versus), len(rep.Comparison))
	}
	for _, f := range rep.Frontiers {
		if len(f.Points) < 4 {
			t.Errorf("%s: %d points, want at least 4", f.Family, len(f.Points))
		}
	}
	var table, js, svg bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "aquatope-30s-c1m") || !strings.Contains(table.String(), "AQUATOPE/KEEPALIVE") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	if err := rep.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"efficient"`) {
		t.Errorf("json: %v\n%s", err, js.String())
	}
	if err := rep.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML with one line and one legend entry per frontier.
	dec := xml.NewDecoder(&svg)
	polylines, texts := 0, map[string]bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			if err != io.EOF {
				t.Fatalf("SVG: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
		if cd, ok := tok.(xml.CharData); ok {
			texts[string(cd)] = true
		}
	}
	if polylines != 4 {
		t.Errorf("%d polylines, want one per frontier", polylines)
	}
	for _, f := range rep.Frontiers {
		if !texts[f.Family] {
			t.Errorf("no legend entry for %s", f.Family)
		}
	}
}

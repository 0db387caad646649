package history_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler/stats"
)

// wantWindow is what a case expects of one change's window; a nil
// *wantWindow is a window that must be absent.
type wantWindow struct {
	since, until time.Duration // from t0
	invocations  int
	errors       int
	p50, pq      float64 // NaN: null (no invocation)
	costPerInv   float64
}

// TestConfigurationHistory writes a workflow's configuration changes (a
// deploy, a tuning run's explorations and its result, a choice by hand)
// and invocations between them, beside the same workflow name under
// another tenant, into a real Postgres, and checks each change's windows
// and figures: a settled change is compared with the previous settled
// configuration up to the tuner's first exploration, an explored one
// with the one right before it; windows are cut at the window length,
// the next change and the query's end; the limit keeps the newest
// changes without moving their windows.
func TestConfigurationHistory(t *testing.T) {
	srv := testenv.Postgres(t)
	h, _ := open(t, srv.URL(), history.WriterConfig{})
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	res := func(cpu int64) map[string]api.Resources {
		return map[string]api.Resources{"f": {CPUMilli: cpu, MemoryBytes: 128 << 20}, "g": {CPUMilli: 300, MemoryBytes: 64 << 20}}
	}
	changes := []struct {
		id   string
		at   time.Duration
		kind string
		cpu  int64
	}{
		{"c1", 0, api.ChangeDeploy, 2000},
		{"c2", 60 * time.Minute, api.ChangeExplore, 500},
		{"c3", 70 * time.Minute, api.ChangeExplore, 250},
		{"c4", 80 * time.Minute, api.ChangeTune, 500},
		{"c5", 200 * time.Minute, api.ChangeManual, 1000},
	}
	prev := map[string]api.Resources(nil)
	for i, c := range changes {
		for _, tenant := range []string{"t1", "t2"} {
			h.Add(history.ConfigurationChange{ID: tenant + c.id, Tenant: tenant, Workflow: "wf", At: t0.Add(c.at), Kind: c.kind,
				Revision: 1, Policy: "aquatope", Reason: fmt.Sprintf("change %d", i+1), Before: prev, After: res(c.cpu)})
		}
		prev = res(c.cpu)
	}
	// Invocations (latency, cost): 10 ms apart from each offset.
	invs := []struct {
		at       time.Duration
		latency  []float64 // 0: failed
		costEach float64
	}{
		{10 * time.Minute, []float64{100, 200, 300}, 4e-6},        // deploy's window, within its first 30 min
		{45 * time.Minute, []float64{400}, 4e-6},                  // deploy's configuration, its last 30 min
		{65 * time.Minute, []float64{900, 0}, 1e-6},               // explore c2
		{75 * time.Minute, []float64{50}, 1e-6},                   // explore c3
		{90 * time.Minute, []float64{150, 250}, 2e-6},             // tune c4, its first 30 min
		{190 * time.Minute, []float64{10, 20, 30, 40}, 2e-6},      // tune c4, its last 30 min
		{205 * time.Minute, []float64{60, 70, 80, 90, 100}, 3e-6}, // manual c5
	}
	for i, g := range invs {
		for j, l := range g.latency {
			start := t0.Add(g.at + time.Duration(j)*10*time.Millisecond)
			for _, tenant := range []string{"t1", "t2"} {
				inv := history.Invocation{ID: fmt.Sprintf("%s-%d-%d", tenant, i, j), Tenant: tenant, Workflow: "wf", Revision: 1, Status: "succeeded",
					Start: start, End: start.Add(time.Duration(l) * time.Millisecond), LatencyMs: l, Cost: g.costEach}
				if tenant == "t2" {
					inv.LatencyMs = 9999 // another tenant's must not count
				}
				if l == 0 {
					inv.Status = "failed"
				}
				h.Add(inv)
			}
		}
	}
	waitWritten(t, h, 30*time.Second)

	inf := math.Inf(1)
	m := time.Minute
	want := map[string][2]*wantWindow{ // before, after
		"c1": {nil, {0, 30 * m, 3, 0, 200, 300, 4e-6}},
		"c2": {{30 * m, 60 * m, 1, 0, 400, 400, 4e-6}, {60 * m, 70 * m, 2, 1, 900, inf, 1e-6}},
		"c3": {{60 * m, 70 * m, 2, 1, 900, inf, 1e-6}, {70 * m, 80 * m, 1, 0, 50, 50, 1e-6}},
		// The tuning's result against the deploy's configuration until the
		// first exploration, not against the last one explored.
		"c4": {{30 * m, 60 * m, 1, 0, 400, 400, 4e-6}, {80 * m, 110 * m, 2, 0, 150, 250, 2e-6}},
		"c5": {{170 * m, 200 * m, 4, 0, 20, 40, 2e-6}, {200 * m, 210 * m, 5, 0, 80, 100, 3e-6}},
	}
	for _, c := range []struct {
		name  string
		limit int
		until time.Duration
		ids   []string // newest first
	}{
		{"every change", 10, 210 * m, []string{"c5", "c4", "c3", "c2", "c1"}},
		{"the newest two, their windows where they were", 2, 210 * m, []string{"c5", "c4"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := h.ConfigurationHistory(ctx, history.ConfigurationQuery{Tenant: "t1", Workflow: "wf", Window: 30 * m, Limit: c.limit, Percentile: 90, Until: t0.Add(c.until)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.ids) {
				t.Fatalf("%d changes, want %d", len(got), len(c.ids))
			}
			for i, ch := range got {
				id := "t1" + c.ids[i]
				if ch.ID != id {
					t.Errorf("change %d is %s, want %s", i, ch.ID, id)
					continue
				}
				w := want[c.ids[i]]
				checkWindow(t, t0, id+" before", ch.Before, w[0])
				checkWindow(t, t0, id+" after", ch.After, w[1])
			}
			first := got[len(got)-1]
			if c.ids[len(c.ids)-1] == "c1" {
				if fc := first.Functions[0]; fc.Function != "f" || fc.Before != nil || fc.After.CPUMilli != 2000 || !fc.Changed {
					t.Errorf("the deploy's function f: %+v, want new at 2000m", fc)
				}
			}
			tune := got[1]
			if c.ids[1] == "c4" {
				f, g := tune.Functions[0], tune.Functions[1]
				if f.Before.CPUMilli != 250 || f.After.CPUMilli != 500 || !f.Changed || g.Changed || tune.Kind != api.ChangeTune || tune.Policy != "aquatope" || tune.Reason != "change 4" {
					t.Errorf("the tuning's change: %+v (f %+v -> %+v), want f 250m -> 500m, g unchanged", tune, f.Before, f.After)
				}
			}
		})
	}

	// Another tenant's workflow of the same name and an unknown one.
	if got, err := h.ConfigurationHistory(ctx, history.ConfigurationQuery{Tenant: "t3", Workflow: "wf", Window: m, Limit: 5, Percentile: 95, Until: t0}); err != nil || len(got) != 0 {
		t.Errorf("tenant t3's wf: %d changes, %v; want none", len(got), err)
	}
	if known, err := h.Exists(ctx, "t3", "wf"); err != nil || known {
		t.Errorf("tenant t3's wf exists = %v, %v", known, err)
	}

	// A tuning run with many explorations: listing its last two changes
	// reads the settled change behind all of them (the deploy) and the one
	// that followed it, not every change between.
	nan := math.NaN()
	for i, c := range []struct {
		at   time.Duration
		kind string
	}{{0, api.ChangeDeploy}, {10 * m, api.ChangeExplore}, {20 * m, api.ChangeExplore}, {30 * m, api.ChangeExplore}, {40 * m, api.ChangeExplore}, {50 * m, api.ChangeTune}, {55 * m, api.ChangeValidate}} {
		h.Add(history.ConfigurationChange{ID: fmt.Sprintf("r%d", i), Tenant: "t4", Workflow: "wf", At: t0.Add(c.at), Kind: c.kind, Revision: 1, After: res(250)})
	}
	waitWritten(t, h, 30*time.Second)
	for _, c := range []struct {
		name  string
		limit int
		want  map[string][2]*wantWindow
	}{
		{"the newest, its base the one read before it", 1, map[string][2]*wantWindow{
			"r6": {{50 * m, 55 * m, 0, 0, nan, nan, nan}, {55 * m, 60 * m, 0, 0, nan, nan, nan}}}},
		{"a settled one behind four explorations", 2, map[string][2]*wantWindow{
			"r6": {{50 * m, 55 * m, 0, 0, nan, nan, nan}, {55 * m, 60 * m, 0, 0, nan, nan, nan}},
			"r5": {{0, 10 * m, 0, 0, nan, nan, nan}, {50 * m, 55 * m, 0, 0, nan, nan, nan}}}},
	} {
		got, err := h.ConfigurationHistory(ctx, history.ConfigurationQuery{Tenant: "t4", Workflow: "wf", Window: 30 * m, Limit: c.limit, Percentile: 90, Until: t0.Add(60 * m)})
		if err != nil || len(got) != c.limit {
			t.Fatalf("%s: %d changes, %v; want %d", c.name, len(got), err, c.limit)
		}
		for _, ch := range got {
			w, ok := c.want[ch.ID]
			if !ok {
				t.Errorf("%s: change %s listed", c.name, ch.ID)
				continue
			}
			checkWindow(t, t0, c.name+" "+ch.ID+" before", ch.Before, w[0])
			checkWindow(t, t0, c.name+" "+ch.ID+" after", ch.After, w[1])
		}
	}
}

func checkWindow(t *testing.T, t0 time.Time, what string, got *api.ChangeWindow, want *wantWindow) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
		return
	}
	if got == nil {
		return
	}
	nan := math.NaN()
	ms := func(p *stats.Ms) float64 {
		if p == nil {
			return nan
		}
		return float64(*p)
	}
	if !got.Since.Equal(t0.Add(want.since)) || !got.Until.Equal(t0.Add(want.until)) {
		t.Errorf("%s: window %s..%s, want +%s..+%s", what, got.Since.Sub(t0), got.Until.Sub(t0), want.since, want.until)
	}
	cost := nan
	if got.ExecutionCostPerInvocation != nil {
		cost = *got.ExecutionCostPerInvocation
	}
	if got.Invocations != want.invocations || got.Errors != want.errors || !sameMs(ms(got.P50Ms), want.p50) || !sameMs(ms(got.PercentileMs), want.pq) || !sameMs(cost, want.costPerInv) {
		t.Errorf("%s: %d invocations, %d errors, p50 %v, p90 %v, $%v per invocation; want %d, %d, %v, %v, $%v",
			what, got.Invocations, got.Errors, ms(got.P50Ms), ms(got.PercentileMs), cost, want.invocations, want.errors, want.p50, want.pq, want.costPerInv)
	}
}

func sameMs(a, b float64) bool { return (math.IsNaN(a) && math.IsNaN(b)) || near(a, b) }

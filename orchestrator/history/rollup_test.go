package history_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/history"
)

// TestSeriesStageRunsFromTheRollup checks the series' stage runs and
// cold starts, which come from the per-minute rollup for a step of whole
// minutes (and the row-by-row index for the window's partial last
// minute, or for any other step), against counts made here from the rows
// written: with the window's last minute cut, with a step that is not
// whole minutes, after the writer wrote the same records twice (a batch
// whose commit was not acknowledged), and after a DELETE of stage runs.
func TestSeriesStageRunsFromTheRollup(t *testing.T) {
	srv := testenv.Postgres(t)
	h, _ := open(t, srv.URL(), history.WriterConfig{})
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	since := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	type run struct {
		at   time.Duration
		cold bool
	}
	runs := []run{{0, true}, {59*time.Second + 999999*time.Microsecond, false}, {60 * time.Second, true}, {61 * time.Second, false},
		{125 * time.Second, true}, {150 * time.Second, false}, {-time.Second, true}, {10 * time.Minute, true}}
	write := func() {
		for i, r := range runs {
			for _, tenant := range []string{"r", "other"} {
				h.Add(history.StageRun{InvocationID: fmt.Sprintf("%s-%d", tenant, i), Stage: "a", Tenant: tenant, Workflow: "wf", Function: "f",
					Start: since.Add(r.at), End: since.Add(r.at + time.Millisecond), Calls: 1, Attempts: 1, Cold: r.cold})
			}
		}
		waitWritten(t, h, 30*time.Second)
	}
	write()
	write() // again: nothing more is counted

	check := func(t *testing.T, step, window time.Duration) {
		t.Helper()
		q := history.SeriesQuery{Tenant: "r", Workflow: "wf", Since: since, Until: since.Add(window), Step: step}
		s, err := h.Series(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for b, got := range s.Buckets {
			bs, be := since.Add(time.Duration(b)*step), since.Add(time.Duration(b+1)*step)
			if be.After(q.Until) {
				be = q.Until
			}
			wantRuns, wantCold := 0, 0
			for _, r := range runs {
				if at := since.Add(r.at); !at.Before(bs) && at.Before(be) {
					wantRuns++
					if r.cold {
						wantCold++
					}
				}
			}
			if got.StageRuns != wantRuns || got.ColdStarts != wantCold {
				t.Errorf("bucket %d (%s..%s): %d stage runs, %d cold; want %d, %d", b, bs.Sub(since), be.Sub(since), got.StageRuns, got.ColdStarts, wantRuns, wantCold)
			}
		}
	}
	for _, c := range []struct {
		name         string
		step, window time.Duration
	}{
		{"minutes, whole window", time.Minute, 3 * time.Minute},
		{"minutes, the last one cut", time.Minute, 2*time.Minute + 30*time.Second},
		{"two minutes, the last bucket cut inside a minute", 2 * time.Minute, 2*time.Minute + 45*time.Second},
		{"30 seconds: row by row", 30 * time.Second, 2*time.Minute + 30*time.Second},
		{"a window shorter than a minute", time.Minute, 59 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) { check(t, c.step, c.window) })
	}

	// A DELETE (by hand, say) takes its rows out of the rollup.
	if _, err := pool.Exec(ctx, "DELETE FROM stage_runs WHERE tenant = 'r' AND started_at = $1", since.Add(60*time.Second)); err != nil {
		t.Fatal(err)
	}
	runs = append(runs[:2:2], runs[3:]...)
	t.Run("after a delete", func(t *testing.T) { check(t, time.Minute, 3*time.Minute) })
}

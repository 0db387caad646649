package history_test

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler"
)

var seriesSizes = flag.String("series-sizes", "10000,100000", "invocations in the window for BenchmarkSeries (the issue's figure adds 1000000)")

// BenchmarkSeries measures GET /v1/reports/series' query, a 24 h window in
// 5-minute buckets (288), at each of -series-sizes invocations in the
// window (two stage runs each, three times as many invocations of other
// tenants, and 100 sandboxes), and logs the plan of its invocation query (EXPLAIN
// ANALYZE) to show the index it reads.
//
//	go test -run '^$' -bench Series -benchtime 10x -v ./orchestrator/history/ -args -series-sizes 10000,100000,1000000
func BenchmarkSeries(b *testing.B) {
	var sizes []int
	for _, s := range strings.Split(*seriesSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("-series-sizes %q: want positive numbers separated by commas", *seriesSizes)
		}
		sizes = append(sizes, n)
	}
	ctx := context.Background()
	srv := testenv.Postgres(b)
	pool, err := pgxpool.New(ctx, srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	h, err := history.Open(ctx, srv.URL(), scheduler.DefaultPrices(), history.WriterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	q := history.SeriesQuery{Tenant: "t", Workflow: "wf", Since: since, Until: since.Add(24 * time.Hour), Step: 5 * time.Minute}
	if _, err := h.Series(ctx, q); err != nil { // the schema
		b.Fatal(err)
	}
	for _, n := range sizes {
		start := time.Now()
		if err := fillSeries(ctx, pool, since, n); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d invocations (and %d stage runs) per tenant written in %s", n, 2*n, time.Since(start).Round(time.Millisecond))
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				s, err := h.Series(ctx, q)
				took = append(took, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if total := sumInvocations(s.Buckets); total != n {
					b.Fatalf("the series counts %d invocations, want %d", total, n)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
		})
		for _, name := range []string{"invocations", "stage runs", "sandboxes"} {
			args := []any{q.Tenant, q.Workflow, q.Since, q.Until, q.Step.Microseconds(), q.Buckets()}
			switch name {
			case "invocations":
				args = append(args, 95.0, 150.0)
			case "stage runs":
				args = append(args, q.Until)
			case "sandboxes":
				args = append(args, 2.4e-5, 2.5e-6)
			}
			plan, err := explain(ctx, pool, history.SeriesSQL()[name], args)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("plan of the %s query at %d:\n%s", name, n, plan)
		}
	}
}

// explain runs EXPLAIN ANALYZE on a query as Series runs it (in a
// transaction with its work_mem).
func explain(ctx context.Context, pool *pgxpool.Pool, query string, args []any) (string, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET LOCAL work_mem = '"+history.SeriesWorkMem+"'"); err != nil {
		return "", err
	}
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+query, args...)
	if err != nil {
		return "", err
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan = append(plan, line)
	}
	return strings.Join(plan, "\n"), rows.Err()
}

func sumInvocations(buckets []api.SeriesBucket) int {
	n := 0
	for _, b := range buckets {
		n += b.Invocations
	}
	return n
}

// fillSeries replaces the history with n invocations of tenant t's
// workflow wf spread over the 24 h from since, 1% failed, two stage runs
// each; as many invocations again for each of three other tenants (n1,
// with stage runs too, n2 and n3), so that the window is a quarter of the
// table; and 100 sandboxes of t's wf each
// ready for an hour; then VACUUM ANALYZE, as autovacuum would do in time.
func fillSeries(ctx context.Context, pool *pgxpool.Pool, since time.Time, n int) error {
	if _, err := pool.Exec(ctx, "TRUNCATE invocations, stage_runs, sandbox_events"); err != nil {
		return err
	}
	stmts := []string{
		`INSERT INTO invocations (id, tenant, workflow, revision, async, status, started_at, ended_at, latency_ms, qos_latency_ms, qos_percentile, cold_starts, cost)
SELECT tn || '-' || i, tn, 'wf', 1, false, CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'succeeded' END,
       $1::timestamptz + (i - 1) * (86400000000 / $2::bigint) * interval '1 microsecond',
       $1::timestamptz + (i - 1) * (86400000000 / $2::bigint) * interval '1 microsecond',
       50 + (i::bigint * 7919 % 1000) / 10.0, 150, 95, (i % 10 = 0)::int, 1e-6
FROM generate_series(1, $2::int) AS i, (VALUES ('t'), ('n1'), ('n2'), ('n3')) AS tenants(tn)`,
		`INSERT INTO stage_runs (invocation_id, stage, tenant, workflow, function, started_at, ended_at, calls, attempts, queued_ms, exec_ms, cold, cpu_milli, memory_bytes, cost)
SELECT tn || '-' || i, st, tn, 'wf', st,
       $1::timestamptz + (i - 1) * (86400000000 / $2::bigint) * interval '1 microsecond',
       $1::timestamptz + (i - 1) * (86400000000 / $2::bigint) * interval '1 microsecond',
       1, 1, 1, 20, i % 10 = 0, 500, 268435456, 5e-7
FROM generate_series(1, $2::int) AS i, (VALUES ('t'), ('n1')) AS tenants(tn), (VALUES ('a'), ('b')) AS stages(st)`,
		`INSERT INTO sandbox_events (id, sandbox, event, at, tenant, workflow, function, cpu_milli, memory_bytes)
SELECT 'e' || ev || i, 'sb' || i, ev, $1::timestamptz + (i * 14 + CASE ev WHEN 'ready' THEN 0 ELSE 60 END) * interval '1 minute',
       't', 'wf', CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 500, 268435456
FROM generate_series(0, 99) AS i, (VALUES ('ready'), ('deleted')) AS events(ev)
WHERE $2::int > 0`,
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s, since, n); err != nil {
			return fmt.Errorf("%.40s: %w", s, err)
		}
	}
	_, err := pool.Exec(ctx, "VACUUM ANALYZE invocations, stage_runs, sandbox_events")
	return err
}

package history

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/stats"
)

// SeriesQuery selects a series: one tenant's workflow over [Since, Until)
// in buckets of Step. Since should be a multiple of Step (SeriesWindow
// makes it one).
type SeriesQuery struct {
	Tenant, Workflow string
	Since, Until     time.Time
	Step             time.Duration
}

// Buckets is how many buckets the query's window holds (the last one may
// be shorter than Step).
func (q SeriesQuery) Buckets() int {
	if q.Step <= 0 || !q.Since.Before(q.Until) {
		return 0
	}
	return int((q.Until.Sub(q.Since) + q.Step - 1) / q.Step)
}

// SeriesWindow rounds since down to a multiple of step (counted from
// Go's zero time, which puts steps that divide a day on UTC midnights), so
// that the same step always draws the same buckets.
func SeriesWindow(since time.Time, step time.Duration) time.Time {
	return since.Truncate(step)
}

// bucketsSQL lists the window's buckets as rows (b, bs, be): the
// bucket's index and its [start, end), exact to the microsecond (as
// Postgres keeps times), so that a row at a bucket's edge belongs to the
// bucket that starts there. Parameters: $3 and $4 the window, $5 the step
// in microseconds, $6 the number of buckets.
const bucketsSQL = `
    SELECT b, $3::timestamptz + (b::bigint * $5::bigint) * interval '1 microsecond' AS bs,
           least($3::timestamptz + ((b + 1)::bigint * $5::bigint) * interval '1 microsecond', $4) AS be
    FROM generate_series(0, $6::int - 1) AS b`

// Series computes q's buckets. Every figure is computed in Postgres, and
// sent back one row per bucket: the invocations bucket by bucket, each
// bucket an index range of the (tenant, workflow, started_at) index (no
// sort of the window's rows by bucket, which at a million rows spilled
// to disk); the stage runs from their per-minute rollup where the buckets
// are whole minutes; the sandboxes' lives cut by the buckets.
func (h *History) Series(ctx context.Context, q SeriesQuery) (*api.Series, error) {
	q.Since, q.Until = q.Since.Truncate(time.Microsecond), q.Until.Truncate(time.Microsecond) // Postgres's precision
	n := q.Buckets()
	switch {
	case n == 0:
		return nil, fmt.Errorf("series: the window %s..%s with step %s is empty", q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339), q.Step)
	case n > api.MaxSeriesBuckets:
		return nil, fmt.Errorf("series: step %s makes %d buckets, more than %d", q.Step, n, api.MaxSeriesBuckets)
	case q.Step%time.Microsecond != 0:
		return nil, fmt.Errorf("series: step %s is not a whole number of microseconds", q.Step)
	}
	if err := h.schema(ctx); err != nil {
		return nil, unavailable(err)
	}
	s := &api.Series{History: "on", Workflow: q.Workflow, Since: q.Since, Until: q.Until, StepSeconds: q.Step.Seconds(),
		Functions: []string{}, Buckets: make([]api.SeriesBucket, n)}
	for i := range s.Buckets {
		s.Buckets[i].Start = q.Since.Add(time.Duration(i) * q.Step)
	}
	args := []any{q.Tenant, q.Workflow, q.Since, q.Until, q.Step.Microseconds(), n}
	// One snapshot for the queries, and room to sort a window's
	// invocations in memory (a million take about 60 MB; past work_mem
	// the sort spills to disk).
	tx, err := h.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, unavailable(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL work_mem = '"+seriesWorkMem+"'"); err != nil {
		return nil, unavailable(err)
	}

	// The latest target in the window, by the index read backwards.
	var targetMs, percentile *float64
	err = tx.QueryRow(ctx, `
SELECT qos_latency_ms, qos_percentile FROM invocations
WHERE tenant = $1 AND workflow = $2 AND started_at >= $3 AND started_at < $4
ORDER BY started_at DESC LIMIT 1`, args[:4]...).Scan(&targetMs, &percentile)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, unavailable(err)
	}
	if targetMs != nil && percentile != nil {
		s.QoS = &api.QoSTarget{TargetMs: *targetMs, Percentile: *percentile}
	}
	if err := seriesInvocations(ctx, tx, s, args); err != nil {
		return nil, err
	}
	if err := seriesStages(ctx, tx, s, args, q.Step); err != nil {
		return nil, err
	}
	if err := seriesPools(ctx, tx, s, args, h.prices); err != nil {
		return nil, err
	}
	for i := range s.Buckets {
		b := &s.Buckets[i]
		b.Cost.Total = b.Cost.Execution + b.Cost.Idle
		if b.Invocations > 0 {
			inv := float64(b.Invocations)
			b.Cost.PerInvocation = ptr(b.Cost.Total / inv)
			b.Cost.ExecutionPerInvocation = ptr(b.Cost.Execution / inv)
			b.Cost.IdlePerInvocation = ptr(b.Cost.Idle / inv)
		}
		if b.StageRuns > 0 {
			b.ColdStartRate = ptr(float64(b.ColdStarts) / float64(b.StageRuns))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, unavailable(err)
	}
	return s, nil
}

// seriesWorkMem is the work_mem of a series' transaction: enough to sort
// a million invocations of a window in memory.
const seriesWorkMem = "64MB"

// seriesInvocations fills each bucket's counts, percentiles, violations
// and execution cost: one pass over the window's invocations, ranked
// within their bucket.
func seriesInvocations(ctx context.Context, tx pgx.Tx, s *api.Series, args []any) error {
	percentile, target := 100.0, math.Inf(1)
	if s.QoS != nil {
		percentile, target = s.QoS.Percentile, s.QoS.TargetMs
	}
	rows, err := tx.Query(ctx, seriesInvocationsSQL(), append(args, percentile, target)...)
	if err != nil {
		return unavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, violations int
		var p50, p95, p99, atTarget float64
		var r api.SeriesBucket
		if err := rows.Scan(&b, &r.Invocations, &r.Errors, &p50, &p95, &p99, &atTarget, &violations, &r.Cost.Execution); err != nil {
			return unavailable(err)
		}
		if b < 0 || b >= len(s.Buckets) {
			continue
		}
		out := &s.Buckets[b]
		out.Invocations, out.Errors, out.Cost.Execution = r.Invocations, r.Errors, r.Cost.Execution
		out.LatencyMs = &api.Latency{P50: stats.Ms(p50), P95: stats.Ms(p95), P99: stats.Ms(p99)}
		if s.QoS != nil {
			out.QoSMs = ptr(stats.Ms(atTarget))
			out.ViolationRate = ptr(float64(violations) / float64(r.Invocations))
		}
	}
	if err := rows.Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// seriesInvocationsSQL aggregates the window's invocations bucket by
// bucket, each bucket's latencies sorted in an array that the
// percentiles index at their nearest rank: parameters as bucketsSQL's,
// with $1 tenant, $2 workflow, $7 the QoS percentile and $8 its target.
func seriesInvocationsSQL() string {
	at := func(p string) string { return "sorted[" + nearestRank(p) + "::int]" }
	return `
SELECT b, n, errors, ` + at("50") + `, ` + at("95") + `, ` + at("99") + `, ` + at("$7::numeric") + `, violations, cost
FROM (` + bucketsSQL + `) AS buckets
CROSS JOIN LATERAL (
    SELECT count(*) AS n, count(*) FILTER (WHERE status <> 'succeeded') AS errors,
           array_agg(` + latencyOrInf + ` ORDER BY ` + latencyOrInf + `) AS sorted,
           count(*) FILTER (WHERE status <> 'succeeded' OR latency_ms > $8) AS violations,
           sum(cost) AS cost
    FROM invocations
    WHERE tenant = $1 AND workflow = $2 AND started_at >= bs AND started_at < be) AS figures
WHERE n > 0
ORDER BY b`
}

// seriesStages fills each bucket's stage runs and cold starts, the
// buckets step long.
func seriesStages(ctx context.Context, tx pgx.Tx, s *api.Series, args []any, step time.Duration) error {
	rows, err := tx.Query(ctx, seriesStagesSQL(), append(args, rolledUntil(s.Since, s.Until, step))...)
	if err != nil {
		return unavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, runs, cold int
		if err := rows.Scan(&b, &runs, &cold); err != nil {
			return unavailable(err)
		}
		if b >= 0 && b < len(s.Buckets) {
			s.Buckets[b].StageRuns, s.Buckets[b].ColdStarts = runs, cold
		}
	}
	if err := rows.Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// rolledUntil is where a series' stage runs stop being read from the
// per-minute rollup (stage_run_minutes) and start being read row by row:
// the last whole minute of the window, when every bucket starts on a
// whole minute (so that no minute straddles two buckets); else the
// window's start (every stage run read row by row).
func rolledUntil(since, until time.Time, step time.Duration) time.Time {
	if step%time.Minute != 0 || !since.Equal(since.Truncate(time.Minute)) { // Truncate counts from year 1, a whole number of minutes before 1970
		return since
	}
	return later(since, until.Truncate(time.Minute))
}

// seriesStagesSQL counts the window's stage runs and cold starts bucket
// by bucket: parameters as seriesInvocationsSQL's first six, and $7 where
// the rollup's minutes end (rolledUntil). Each bucket adds up its whole
// minutes before $7 from the rollup, and reads the stage runs from $7 on
// (at most the window's last, partial, minute) through the index.
func seriesStagesSQL() string {
	return `
SELECT b, coalesce(rolled.runs, 0) + raw.runs, coalesce(rolled.cold, 0) + raw.cold
FROM (` + bucketsSQL + `) AS buckets
CROSS JOIN LATERAL (
    SELECT sum(runs) AS runs, sum(cold) AS cold
    FROM stage_run_minutes
    WHERE tenant = $1 AND workflow = $2 AND minute >= bs AND minute < least(be, $7::timestamptz)) AS rolled
CROSS JOIN LATERAL (
    SELECT count(*) AS runs, count(*) FILTER (WHERE cold) AS cold
    FROM stage_runs
    WHERE tenant = $1 AND workflow = $2 AND started_at >= greatest(bs, $7::timestamptz) AND started_at < be) AS raw
WHERE coalesce(rolled.runs, 0) + raw.runs > 0`
}

// seriesPools fills each bucket's warm pool per function and idle cost:
// every sandbox's ready life (ready to deleted, or to the window's end)
// cut by the buckets it overlaps. The idle cost is, as in the report,
// the bucket's sandbox-time at the prices less its execution cost.
func seriesPools(ctx context.Context, tx pgx.Tx, s *api.Series, args []any, prices scheduler.Prices) error {
	rows, err := tx.Query(ctx, seriesPoolsSQL(), append(args, prices.CPUSecondUSD, prices.GiBSecondUSD)...)
	if err != nil {
		return unavailable(err)
	}
	defer rows.Close()
	lifetime := make([]float64, len(s.Buckets))
	functions := map[string]bool{}
	for rows.Next() {
		var b int
		var function string
		var mean, cost float64
		if err := rows.Scan(&b, &function, &mean, &cost); err != nil {
			return unavailable(err)
		}
		if b < 0 || b >= len(s.Buckets) {
			continue
		}
		if s.Buckets[b].WarmPool == nil {
			s.Buckets[b].WarmPool = map[string]float64{}
		}
		s.Buckets[b].WarmPool[function] = mean
		lifetime[b] += cost
		functions[function] = true
	}
	if err := rows.Err(); err != nil {
		return unavailable(err)
	}
	for i := range s.Buckets {
		s.Buckets[i].Cost.Idle = max(0, lifetime[i]-s.Buckets[i].Cost.Execution)
	}
	for f := range functions {
		s.Functions = append(s.Functions, f)
	}
	sort.Strings(s.Functions)
	return nil
}

// seriesPoolsSQL cuts each ready sandbox's life by the buckets: the
// seconds each function's sandboxes were ready in each bucket over the
// bucket's seconds, and what that time cost. Parameters: the first six
// of seriesInvocationsSQL's, $7 and $8 the prices of a CPU-second and a
// GiB-second.
func seriesPoolsSQL() string {
	return `
WITH life AS (
    SELECT sandbox, min(function) AS function, max(cpu_milli) AS cpu, max(memory_bytes) AS mem,
           min(at) FILTER (WHERE event = 'ready') AS ready,
           min(at) FILTER (WHERE event = 'deleted') AS deleted
    FROM sandbox_events WHERE tenant = $1 AND workflow = $2 AND at < $4
    GROUP BY sandbox),
alive AS (
    SELECT function, cpu, mem, greatest(ready, $3) AS s, least(coalesce(deleted, $4), $4) AS e
    FROM life WHERE ready IS NOT NULL AND ready < $4 AND coalesce(deleted, $4) > $3),
buckets AS (` + bucketsSQL + `),
pieces AS (
    SELECT b, function, cpu, mem, extract(epoch FROM least(e, be) - greatest(s, bs))::float8 AS secs,
           extract(epoch FROM be - bs)::float8 AS span
    FROM alive JOIN buckets ON s < be AND e > bs)
SELECT b, function, sum(secs) / min(span), sum(secs * (cpu / 1000.0 * $7 + mem / 1073741824.0 * $8))::float8
FROM pieces GROUP BY b, function ORDER BY b, function`
}

func ptr[T any](v T) *T { return &v }

// Exists says whether a tenant's workflow has any invocation or
// configuration change in history.
func (h *History) Exists(ctx context.Context, tenant, workflow string) (bool, error) {
	if err := h.schema(ctx); err != nil {
		return false, unavailable(err)
	}
	var ok bool
	err := h.pool.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM invocations WHERE tenant = $1 AND workflow = $2)
    OR EXISTS (SELECT 1 FROM configuration_changes WHERE tenant = $1 AND workflow = $2)`, tenant, workflow).Scan(&ok)
	if err != nil {
		return false, unavailable(err)
	}
	return ok, nil
}

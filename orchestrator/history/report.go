package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler/stats"
	"github.com/jackc/pgx/v5"
)

// ReportQuery selects what a report covers: one tenant's workflows (or
// one of them) over [Since, Until).
type ReportQuery struct {
	Tenant, Workflow string
	Since, Until     time.Time
}

// The report's percentiles follow package stats: the nearest rank, and a
// failed invocation counted as slower than every success (+Inf, null in
// JSON), so a window whose p99 falls on a failure shows it and misses its
// QoS, as tune.Judge would judge it. Postgres computes them, so that a
// report reads no more than a row per workflow: nearestRank is stats.Rank
// in SQL (numeric arithmetic is exact, so it needs no tolerance), and a
// stage's execution percentiles rank every run, failed ones at the time
// they took.

// latencyOrInf is an invocation's latency as the percentiles rank it.
const latencyOrInf = `CASE WHEN status = 'succeeded' THEN latency_ms ELSE 'Infinity'::float8 END`

// nearestRank is the 1-based rank of the p-th percentile among n rows
// (a column n in the query), p a SQL expression.
func nearestRank(p string) string {
	return "greatest(1, least(n, ceil(" + p + "::numeric / 100 * n)))"
}

// Report computes the reports of q's workflows that ran in the window.
func (h *History) Report(ctx context.Context, q ReportQuery) ([]api.Figures, error) {
	if err := h.schema(ctx); err != nil {
		return nil, unavailable(err)
	}
	if q.Until.IsZero() {
		q.Until = time.Now()
	}
	rows, err := h.pool.Query(ctx, `
WITH ranked AS (
    SELECT workflow, status, cost, qos_latency_ms, qos_percentile, started_at, `+latencyOrInf+` AS l,
           row_number() OVER (PARTITION BY workflow ORDER BY `+latencyOrInf+`) AS rn,
           count(*) OVER (PARTITION BY workflow) AS n
    FROM invocations
    WHERE tenant = $1 AND ($2 = '' OR workflow = $2) AND started_at >= $3 AND started_at < $4)
SELECT workflow, count(*), count(*) FILTER (WHERE status <> 'succeeded'),
       min(l) FILTER (WHERE rn = `+nearestRank("50")+`),
       min(l) FILTER (WHERE rn = `+nearestRank("95")+`),
       min(l) FILTER (WHERE rn = `+nearestRank("99")+`),
       (array_agg(qos_latency_ms ORDER BY started_at DESC))[1],
       (array_agg(qos_percentile ORDER BY started_at DESC))[1],
       sum(cost)
FROM ranked
GROUP BY workflow ORDER BY workflow`, q.Tenant, q.Workflow, q.Since, q.Until)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []api.Figures
	for rows.Next() {
		r := api.Figures{Since: q.Since, Until: q.Until}
		var qosMs, qosP *float64
		var p50, p95, p99 float64
		if err := rows.Scan(&r.Workflow, &r.Invocations, &r.Errors, &p50, &p95, &p99,
			&qosMs, &qosP, &r.Cost.Execution); err != nil {
			rows.Close()
			return nil, unavailable(err)
		}
		r.LatencyMs = api.Latency{P50: stats.Ms(p50), P95: stats.Ms(p95), P99: stats.Ms(p99)}
		if qosMs != nil && qosP != nil {
			r.QoS = &api.QoS{TargetMs: *qosMs, Percentile: *qosP}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	for i := range out {
		if err := h.fill(ctx, q, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fill adds a report's QoS figures, stages and idle cost.
func (h *History) fill(ctx context.Context, q ReportQuery, r *api.Figures) error {
	args := []any{q.Tenant, r.Workflow, q.Since, q.Until}
	if r.QoS != nil {
		var achieved *float64
		var violations int
		err := h.pool.QueryRow(ctx, `
WITH ranked AS (
    SELECT status, latency_ms, `+latencyOrInf+` AS l,
           row_number() OVER (ORDER BY `+latencyOrInf+`) AS rn, count(*) OVER () AS n
    FROM invocations WHERE tenant = $1 AND workflow = $2 AND started_at >= $3 AND started_at < $4)
SELECT min(l) FILTER (WHERE rn = `+nearestRank("$5::numeric")+`),
       count(*) FILTER (WHERE status <> 'succeeded' OR latency_ms > $6)
FROM ranked`,
			append(args, r.QoS.Percentile, r.QoS.TargetMs)...).Scan(&achieved, &violations)
		if err != nil {
			return unavailable(err)
		}
		if achieved != nil {
			r.QoS.AchievedMs = stats.Ms(*achieved)
			r.QoS.Met = *achieved <= r.QoS.TargetMs
		}
		r.QoS.ViolationRate = float64(violations) / float64(r.Invocations)
	}

	rows, err := h.pool.Query(ctx, `
WITH ranked AS (
    SELECT stage, function, exec_ms, queued_ms, cold, cost, started_at,
           row_number() OVER (PARTITION BY stage ORDER BY exec_ms) AS rn,
           count(*) OVER (PARTITION BY stage) AS n
    FROM stage_runs WHERE tenant = $1 AND workflow = $2 AND started_at >= $3 AND started_at < $4)
SELECT stage, min(function), count(*),
       min(exec_ms) FILTER (WHERE rn = `+nearestRank("50")+`),
       min(exec_ms) FILTER (WHERE rn = `+nearestRank("95")+`),
       avg(queued_ms), count(*) FILTER (WHERE cold), sum(cost)
FROM ranked
GROUP BY stage ORDER BY min(started_at), stage`, args...)
	if err != nil {
		return unavailable(err)
	}
	runs, cold := 0, 0
	stages, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (api.StageReport, error) {
		var s api.StageReport
		var coldRuns int
		err := row.Scan(&s.Stage, &s.Function, &s.Runs, &s.ExecP50Ms, &s.ExecP95Ms, &s.QueuedMeanMs, &coldRuns, &s.Cost)
		s.ColdRate = float64(coldRuns) / float64(s.Runs)
		s.CostPerInvocation = s.Cost / float64(r.Invocations)
		runs += s.Runs
		cold += coldRuns
		return s, err
	})
	if err != nil {
		return unavailable(err)
	}
	r.Stages = stages
	if runs > 0 {
		r.ColdStartRate = float64(cold) / float64(runs)
	}

	var lifetime float64
	err = h.pool.QueryRow(ctx, `
WITH life AS (
    SELECT sandbox, max(cpu_milli) AS cpu, max(memory_bytes) AS mem,
           min(at) FILTER (WHERE event = 'ready') AS ready,
           min(at) FILTER (WHERE event = 'deleted') AS deleted
    FROM sandbox_events WHERE tenant = $1 AND workflow = $2 AND at < $4
    GROUP BY sandbox)
SELECT coalesce(sum(
    extract(epoch FROM (least(coalesce(deleted, $4), $4) - greatest(ready, $3)))
    * (cpu / 1000.0 * $5 + mem / 1073741824.0 * $6)), 0)::float8
FROM life WHERE ready IS NOT NULL AND ready < $4 AND coalesce(deleted, $4) > $3`,
		append(args, h.prices.CPUSecondUSD, h.prices.GiBSecondUSD)...).Scan(&lifetime)
	if err != nil {
		return unavailable(err)
	}
	r.Cost.Idle = max(0, lifetime-r.Cost.Execution)
	r.Cost.Total = r.Cost.Execution + r.Cost.Idle
	if r.Invocations > 0 {
		r.Cost.PerInvocation = r.Cost.Total / float64(r.Invocations)
	}
	return nil
}

// ErrNotFound is returned for an invocation the tenant does not have.
var ErrNotFound = errors.New("not found")

// Invocations lists a tenant's latest invocations, newest first, of one
// workflow or all.
func (h *History) Invocations(ctx context.Context, tenant, workflow string, limit int) ([]Invocation, error) {
	if err := h.schema(ctx); err != nil {
		return nil, unavailable(err)
	}
	rows, err := h.pool.Query(ctx, `
SELECT id, tenant, workflow, revision, async, status, error, failed_stage, started_at, ended_at,
       latency_ms, coalesce(qos_latency_ms, 0), coalesce(qos_percentile, 0), cold_starts, cost, input_bytes, output_bytes
FROM invocations WHERE tenant = $1 AND ($2 = '' OR workflow = $2)
ORDER BY started_at DESC LIMIT $3`, tenant, workflow, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, scanInvocation)
	if err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// Timeline returns one of a tenant's invocations with its stage runs in
// the order they started.
func (h *History) Timeline(ctx context.Context, tenant, id string) (*Invocation, []StageRun, error) {
	if err := h.schema(ctx); err != nil {
		return nil, nil, unavailable(err)
	}
	rows, err := h.pool.Query(ctx, `
SELECT id, tenant, workflow, revision, async, status, error, failed_stage, started_at, ended_at,
       latency_ms, coalesce(qos_latency_ms, 0), coalesce(qos_percentile, 0), cold_starts, cost, input_bytes, output_bytes
FROM invocations WHERE tenant = $1 AND id = $2`, tenant, id)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	invs, err := pgx.CollectRows(rows, scanInvocation)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	if len(invs) == 0 {
		return nil, nil, fmt.Errorf("invocation %s: %w", id, ErrNotFound)
	}
	rows, err = h.pool.Query(ctx, `
SELECT invocation_id, stage, tenant, workflow, function, sandbox, worker, started_at, ended_at, calls, attempts,
       queued_ms, exec_ms, cold, cpu_milli, memory_bytes, cost, error
FROM stage_runs WHERE tenant = $1 AND invocation_id = $2 ORDER BY started_at, stage`, tenant, id)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	stages, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StageRun, error) {
		var s StageRun
		err := row.Scan(&s.InvocationID, &s.Stage, &s.Tenant, &s.Workflow, &s.Function, &s.Sandbox, &s.Worker,
			&s.Start, &s.End, &s.Calls, &s.Attempts, &s.QueuedMs, &s.ExecMs, &s.Cold, &s.CPUMilli, &s.MemoryBytes, &s.Cost, &s.Error)
		return s, err
	})
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return &invs[0], stages, nil
}

func scanInvocation(row pgx.CollectableRow) (Invocation, error) {
	var r Invocation
	var rev int64
	err := row.Scan(&r.ID, &r.Tenant, &r.Workflow, &rev, &r.Async, &r.Status, &r.Error, &r.FailedStage, &r.Start, &r.End,
		&r.LatencyMs, &r.QoSLatencyMs, &r.QoSPercentile, &r.ColdStarts, &r.Cost, &r.InputBytes, &r.OutputBytes)
	r.Revision = uint64(rev)
	return r, err
}

// Count returns how many invocations of a tenant's workflow started in
// [since, until).
func (h *History) Count(ctx context.Context, tenant, workflow string, since, until time.Time) (int, error) {
	if err := h.schema(ctx); err != nil {
		return 0, unavailable(err)
	}
	var n int
	err := h.pool.QueryRow(ctx, `SELECT count(*) FROM invocations WHERE tenant = $1 AND workflow = $2 AND started_at >= $3 AND started_at < $4`,
		tenant, workflow, since, until).Scan(&n)
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

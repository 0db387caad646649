package history

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler/stats"
)

// ConfigurationQuery selects a workflow's configuration history: its
// newest Limit changes, each with its invocations in windows of at most
// Window before and after it, their latency at Percentile beside p50 and
// p99. Until ends the last change's After window (now, for a live
// workflow).
type ConfigurationQuery struct {
	Tenant, Workflow string
	Window           time.Duration
	Limit            int
	Percentile       float64
	Until            time.Time
}

// ConfigurationHistory returns q's changes, newest first. A change's
// After window runs from it to the next change (or Until), at most
// q.Window; its Before window is the last q.Window of the configuration
// it is compared with: for a settled change (api.Settled), the previous
// settled one, until the change that followed it (so a tuning run's
// result is compared with what ran before its exploration); for an
// explored or validated one, the configuration right before it. The
// figures come from one query over the windows, each an index range of
// the invocations.
func (h *History) ConfigurationHistory(ctx context.Context, q ConfigurationQuery) ([]api.ConfigurationChange, error) {
	if q.Window <= 0 || q.Limit <= 0 {
		return nil, fmt.Errorf("configuration history: window %s and limit %d must be positive", q.Window, q.Limit)
	}
	if err := h.schema(ctx); err != nil {
		return nil, unavailable(err)
	}
	tx, err := h.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, unavailable(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	changes, err := readChanges(ctx, tx, q)
	if err != nil {
		return nil, unavailable(err)
	}
	windows := placeWindows(changes, q.Window, q.Until)
	if len(changes) > q.Limit {
		changes, windows = changes[len(changes)-q.Limit:], windows[len(windows)-2*q.Limit:]
	}
	if err := changeFigures(ctx, tx, q, windows); err != nil {
		return nil, err
	}
	for i := range changes {
		changes[i].Before, changes[i].After = windows[2*i], windows[2*i+1]
	}
	slices.Reverse(changes) // newest first
	return changes, nil
}

// changeColumns are what scanChange reads.
const changeColumns = `id, at, kind, revision, policy, reason, before, after`

// readChanges reads, oldest first, the changes placeWindows needs to place
// q's newest q.Limit: those, the one before them (an explored or
// validated change is compared with the configuration right before it),
// and, when there are older ones, the newest settled change before them
// and the change that followed it (a settled change is compared with the
// previous settled one, until the change that followed it). What lies
// between is never read: placeWindows sees the settled one and its
// follower as if they came right before the rest, which changes only the
// windows of the oldest change read, and that one is not listed.
func readChanges(ctx context.Context, tx pgx.Tx, q ConfigurationQuery) ([]api.ConfigurationChange, error) {
	rows, err := tx.Query(ctx, `
SELECT `+changeColumns+` FROM configuration_changes
WHERE tenant = $1 AND workflow = $2 ORDER BY at DESC, id DESC LIMIT $3`, q.Tenant, q.Workflow, q.Limit+1)
	if err != nil {
		return nil, err
	}
	changes, err := pgx.CollectRows(rows, scanChange)
	if err != nil {
		return nil, err
	}
	slices.Reverse(changes) // oldest first
	if len(changes) <= q.Limit {
		return changes, nil // every change is read
	}
	oldest := changes[0]
	rows, err = tx.Query(ctx, `
WITH settled AS (
    SELECT `+changeColumns+` FROM configuration_changes
    WHERE tenant = $1 AND workflow = $2 AND (at, id) < ($3, $4) AND kind <> ALL($5)
    ORDER BY at DESC, id DESC LIMIT 1)
SELECT `+changeColumns+` FROM settled
UNION ALL
(SELECT c.id, c.at, c.kind, c.revision, c.policy, c.reason, c.before, c.after
 FROM configuration_changes c, settled s
 WHERE c.tenant = $1 AND c.workflow = $2 AND (c.at, c.id) > (s.at, s.id)
 ORDER BY c.at, c.id LIMIT 1)`, q.Tenant, q.Workflow, oldest.At, oldest.ID, []string{api.ChangeExplore, api.ChangeValidate})
	if err != nil {
		return nil, err
	}
	base, err := pgx.CollectRows(rows, scanChange)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(base, func(a, b api.ConfigurationChange) int { // UNION ALL keeps no order
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
	})
	if len(base) == 2 && base[1].ID == oldest.ID { // it followed right on
		base = base[:1]
	}
	return append(base, changes...), nil
}

func scanChange(row pgx.CollectableRow) (api.ConfigurationChange, error) {
	var c api.ConfigurationChange
	var rev int64
	var before, after []byte
	if err := row.Scan(&c.ID, &c.At, &c.Kind, &rev, &c.Policy, &c.Reason, &before, &after); err != nil {
		return c, err
	}
	c.Revision = uint64(rev)
	var b, a map[string]api.Resources
	if before != nil {
		if err := json.Unmarshal(before, &b); err != nil {
			return c, fmt.Errorf("change %s: before: %w", c.ID, err)
		}
	}
	if err := json.Unmarshal(after, &a); err != nil {
		return c, fmt.Errorf("change %s: after: %w", c.ID, err)
	}
	c.Functions = functionChanges(b, a)
	return c, nil
}

// functionChanges lists every function of before or after by name.
func functionChanges(before, after map[string]api.Resources) []api.FunctionChange {
	names := map[string]bool{}
	for n := range before {
		names[n] = true
	}
	for n := range after {
		names[n] = true
	}
	out := make([]api.FunctionChange, 0, len(names))
	for n := range names {
		fc := api.FunctionChange{Function: n}
		if r, ok := before[n]; ok {
			fc.Before = &r
		}
		if r, ok := after[n]; ok {
			fc.After = &r
		}
		fc.Changed = fc.Before == nil || fc.After == nil || *fc.Before != *fc.After
		out = append(out, fc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function < out[j].Function })
	return out
}

// placeWindows returns, for each change (oldest first), its Before window
// (nil for none) and its After window, in that order.
func placeWindows(changes []api.ConfigurationChange, window time.Duration, until time.Time) []*api.ChangeWindow {
	end := func(i int) time.Time { // when change i's configuration ended
		if i+1 < len(changes) {
			return changes[i+1].At
		}
		return until
	}
	out := make([]*api.ChangeWindow, 0, 2*len(changes))
	lastSettled := -1
	for i, c := range changes {
		base := i - 1
		if api.Settled(c.Kind) {
			base = lastSettled
		}
		var before *api.ChangeWindow
		if base >= 0 {
			e := end(base)
			before = &api.ChangeWindow{Since: later(changes[base].At, e.Add(-window)), Until: e}
		}
		e := end(i)
		if e.Before(c.At) {
			e = c.At
		}
		after := &api.ChangeWindow{Since: c.At, Until: earlier(e, c.At.Add(window))}
		out = append(out, before, after)
		if api.Settled(c.Kind) {
			lastSettled = i
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// changeFigures fills the windows' figures with one query: each window is
// an index range scan of the workflow's invocations, its latencies
// sorted in an array that the percentiles index at their nearest rank
// (as the series does).
func changeFigures(ctx context.Context, tx pgx.Tx, q ConfigurationQuery, windows []*api.ChangeWindow) error {
	var idx []int32
	var since, until []time.Time
	for i, w := range windows {
		if w != nil {
			idx = append(idx, int32(i))
			since, until = append(since, w.Since), append(until, w.Until)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	at := func(p string) string { return "sorted[" + nearestRank(p) + "::int]" }
	rows, err := tx.Query(ctx, `
SELECT w.i, n, errors, `+at("50")+`, `+at("$6::numeric")+`, `+at("99")+`, cost
FROM unnest($3::int[], $4::timestamptz[], $5::timestamptz[]) AS w(i, s, e)
CROSS JOIN LATERAL (
    SELECT count(*) AS n, count(*) FILTER (WHERE status <> 'succeeded') AS errors,
           array_agg(`+latencyOrInf+` ORDER BY `+latencyOrInf+`) AS sorted, sum(cost) AS cost
    FROM invocations
    WHERE tenant = $1 AND workflow = $2 AND started_at >= w.s AND started_at < w.e) AS figures
WHERE n > 0`, q.Tenant, q.Workflow, idx, since, until, q.Percentile)
	if err != nil {
		return unavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int32
		var n, errors int
		var p50, pq, p99, cost float64
		if err := rows.Scan(&i, &n, &errors, &p50, &pq, &p99, &cost); err != nil {
			return unavailable(err)
		}
		w := windows[i]
		w.Invocations, w.Errors = n, errors
		w.P50Ms, w.PercentileMs, w.P99Ms = ptr(stats.Ms(p50)), ptr(stats.Ms(pq)), ptr(stats.Ms(p99))
		w.ExecutionCostPerInvocation = ptr(cost / float64(n))
	}
	if err := rows.Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

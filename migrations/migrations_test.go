package migrations_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/migrations"
)

// TestApplyConcurrentlyAppliesEachOnce starts several migrators at once
// against a fresh database: together they apply every migration exactly
// once, and a later run applies nothing.
func TestApplyConcurrentlyAppliesEachOnce(t *testing.T) {
	srv := testenv.Postgres(t)
	ctx := context.Background()
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no migrations embedded")
	}
	const n = 4
	applied := make([][]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := pgxpool.New(ctx, srv.URL())
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			applied[i], errs[i] = migrations.Apply(ctx, pool)
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		for _, v := range applied[i] {
			count[v]++
		}
	}
	for _, m := range all {
		if count[m.Version] != 1 {
			t.Errorf("migration %d applied %d times, want 1", m.Version, count[m.Version])
		}
	}
	pool, err := pgxpool.New(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(all) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, len(all))
	}
	again, err := migrations.Apply(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Apply = %v, %v; want nothing applied", again, err)
	}
}

// TestUpgradeFromAnEarlierSchema applies the first three migrations (the
// schema before configuration history and invocation sizes), writes an
// invocation as that schema had it, then applies the rest: the old row
// is kept with its sizes unknown (NULL), new rows take sizes,
// configuration changes can be written, and the stage runs' per-minute
// rollup counts the stage runs written before it.
func TestUpgradeFromAnEarlierSchema(t *testing.T) {
	srv := testenv.Postgres(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	const earlier = 3
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range all[:earlier] {
		if _, err := pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := pool.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	insert := `INSERT INTO invocations (id, tenant, workflow, revision, async, status, started_at, ended_at, latency_ms, cold_starts, cost)
VALUES ($1, 't', 'wf', 1, false, 'succeeded', now(), now(), 1, 0, 0)`
	if _, err := pool.Exec(ctx, insert, "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO stage_runs (invocation_id, stage, tenant, workflow, function, started_at, ended_at, calls, attempts, queued_ms, exec_ms, cold, cpu_milli, memory_bytes, cost)
VALUES ('old', 'a', 't', 'wf', 'f', now(), now(), 1, 1, 0, 1, true, 250, 1, 0)`); err != nil {
		t.Fatal(err)
	}
	applied, err := migrations.Apply(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(all)-earlier || applied[0] != earlier+1 {
		t.Fatalf("the upgrade applied %v, want the migrations after %d", applied, earlier)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO invocations (id, tenant, workflow, revision, async, status, started_at, ended_at, latency_ms, cold_starts, cost, input_bytes, output_bytes)
VALUES ('new', 't', 'wf', 1, false, 'succeeded', now(), now(), 1, 0, 0, 10, 20)`); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"old": "<nil> <nil>", "new": "10 20"} {
		var in, out *int64
		if err := pool.QueryRow(ctx, "SELECT input_bytes, output_bytes FROM invocations WHERE id = $1", id).Scan(&in, &out); err != nil {
			t.Fatal(err)
		}
		if got := show(in) + " " + show(out); got != want {
			t.Errorf("invocation %s's sizes after the upgrade: %s, want %s", id, got, want)
		}
	}
	var runs, cold int
	if err := pool.QueryRow(ctx, "SELECT sum(runs), sum(cold) FROM stage_run_minutes WHERE tenant = 't' AND workflow = 'wf'").Scan(&runs, &cold); err != nil || runs != 1 || cold != 1 {
		t.Errorf("the stage runs' rollup after the upgrade: %d runs, %d cold (%v); want the old run, cold", runs, cold, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO configuration_changes (id, tenant, workflow, at, kind, revision, after) VALUES ('c', 't', 'wf', now(), 'deploy', 1, '{}')`); err != nil {
		t.Errorf("write a configuration change after the upgrade: %v", err)
	}
}

func show(p *int64) string {
	if p == nil {
		return "<nil>"
	}
	return strconv.FormatInt(*p, 10)
}

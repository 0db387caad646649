package migrations_test

import (
	"context"
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

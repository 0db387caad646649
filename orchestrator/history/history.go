// Package history keeps Baton's history in Postgres: invocations, stage
// runs, sandbox events and the scheduler's decisions and samples. Records
// are added to a bounded in-memory buffer, which never blocks, and written
// in batches with COPY by a background writer that survives Postgres
// outages by retrying; what does not fit in the buffer is dropped and
// counted. Reports and invocation timelines are read back with SQL.
package history

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"baton.dev/baton/migrations"
	"baton.dev/baton/scheduler"
)

// ErrUnavailable wraps query failures when Postgres cannot be reached.
var ErrUnavailable = errors.New("history is unavailable")

// History is the history store of one orchestrator.
type History struct {
	pool   *pgxpool.Pool
	w      *writer
	prices scheduler.Prices

	mu       sync.Mutex
	migrated bool
}

// Open connects lazily to the Postgres at url: it does not fail when
// Postgres is down; the writer retries until it is up.
func Open(ctx context.Context, url string, prices scheduler.Prices, cfg WriterConfig) (*History, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("history: postgres URL: %w", err)
	}
	pcfg.MaxConns = 8
	pcfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	h := &History{pool: pool, prices: prices}
	h.w = newWriter(pool, cfg, h.schema)
	return h, nil
}

// schema applies the migrations once per process, before the first write
// or query.
func (h *History) schema(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.migrated {
		return nil
	}
	if _, err := migrations.Apply(ctx, h.pool); err != nil {
		return err
	}
	h.migrated = true
	return nil
}

// Add queues records for writing. It never blocks; records past the
// buffer are dropped and counted in Stats.
func (h *History) Add(recs ...Record) { h.w.add(recs...) }

// Run writes until ctx ends, then spends up to drain writing what is
// left.
func (h *History) Run(ctx context.Context, drain time.Duration) { h.w.run(ctx, drain) }

// Stats say how many records are pending, written and dropped.
func (h *History) Stats() Stats { return h.w.stats() }

// Close closes the connections. Call it after Run has returned.
func (h *History) Close() { h.pool.Close() }

func unavailable(err error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

package history

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"baton.dev/baton/backoff"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// WriterConfig sizes the writer.
type WriterConfig struct {
	// Buffer is how many records wait at most; past it new ones are
	// dropped and counted (default 200,000), but for configuration
	// changes, which have a room of their own beyond it (Reserved).
	Buffer int
	// Reserved is how many configuration changes may wait beyond Buffer
	// (default 10,000): they are rare, and the record of a configuration
	// applied should outlive an outage that drops invocations.
	Reserved int
	// Batch is how many records one write takes at most (default 5,000).
	Batch int
	// Flush is how long a record waits for a batch to fill (default 200ms).
	Flush time.Duration
	// MaxBackoff caps the wait between retries while Postgres fails
	// (default 5s).
	MaxBackoff time.Duration
	Logger     *slog.Logger
}

// Stats say how the writer is doing.
type Stats struct {
	Pending   int    `json:"pending"`
	Written   uint64 `json:"written"`
	Dropped   uint64 `json:"dropped"`
	Failures  uint64 `json:"failures"` // failed batch writes, retried
	LastError string `json:"lastError,omitempty"`
}

// writer buffers records in memory and writes them in batches with COPY.
// Add never blocks and never waits on Postgres.
type writer struct {
	pool *pgxpool.Pool
	cfg  WriterConfig
	log  *slog.Logger

	mu      sync.Mutex
	buf     []Record
	lastErr string
	kick    chan struct{}

	written, dropped, failures atomic.Uint64
	prepare                    func(context.Context) error // makes sure the schema is there
}

func newWriter(pool *pgxpool.Pool, cfg WriterConfig, prepare func(context.Context) error) *writer {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 200_000
	}
	if cfg.Reserved <= 0 {
		cfg.Reserved = 10_000
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 5_000
	}
	if cfg.Flush <= 0 {
		cfg.Flush = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &writer{pool: pool, cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), prepare: prepare}
}

// add queues records; those that do not fit are dropped and counted. A
// configuration change fits while the buffer holds fewer than Buffer +
// Reserved.
func (w *writer) add(recs ...Record) {
	w.mu.Lock()
	dropped := 0
	for _, r := range recs {
		limit := w.cfg.Buffer
		if _, ok := r.(ConfigurationChange); ok {
			limit += w.cfg.Reserved
		}
		if len(w.buf) >= limit {
			dropped++
			continue
		}
		w.buf = append(w.buf, r)
	}
	full := len(w.buf) >= w.cfg.Batch
	w.mu.Unlock()
	if dropped > 0 {
		w.dropped.Add(uint64(dropped))
	}
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (w *writer) stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{Pending: len(w.buf), Written: w.written.Load(), Dropped: w.dropped.Load(), Failures: w.failures.Load(), LastError: w.lastErr}
}

// run writes batches until ctx ends, retrying with backoff while Postgres
// fails; then it tries for up to drain to write what is left.
func (w *writer) run(ctx context.Context, drain time.Duration) {
	retry := backoff.Exponential{Base: 100 * time.Millisecond, Max: w.cfg.MaxBackoff}
	failures := 0
	timer := time.NewTimer(w.cfg.Flush)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
			for w.pending() > 0 && dctx.Err() == nil {
				if err := w.writeBatch(dctx); err != nil {
					break
				}
			}
			cancel()
			if n := w.pending(); n > 0 {
				w.log.Warn("history: records not written at shutdown", "records", n)
			}
			return
		case <-timer.C:
		case <-w.kick:
		}
		for w.pending() > 0 {
			if err := w.writeBatch(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				w.failures.Add(1)
				w.setErr(err)
				failures++
				wait := retry.Delay(failures)
				w.log.Warn("history: write failed; records stay buffered and the write is retried", "err", err, "pending", w.pending(), "retryIn", wait)
				_ = backoff.Sleep(ctx, wait) // the loop's next select sees ctx end
				break
			}
			failures = 0
			w.setErr(nil)
			if w.pending() < w.cfg.Batch {
				break
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(w.cfg.Flush)
	}
}

func (w *writer) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.buf)
}

func (w *writer) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.lastErr = ""
	} else {
		w.lastErr = err.Error()
	}
}

// writeBatch writes the oldest records, up to a batch, in one transaction
// and removes them from the buffer once it commits. Each table's rows are
// copied into a temporary table and inserted from there skipping rows
// already present, so a batch whose commit was not acknowledged can be
// written again without duplicates.
func (w *writer) writeBatch(ctx context.Context) error {
	w.mu.Lock()
	n := min(len(w.buf), w.cfg.Batch)
	batch := w.buf[:n:n]
	w.mu.Unlock()
	if n == 0 {
		return nil
	}
	if err := w.prepare(ctx); err != nil {
		return err
	}
	byTable := map[string][]Record{}
	var order []string
	for _, r := range batch {
		t := r.table()
		if _, ok := byTable[t]; !ok {
			order = append(order, t)
		}
		byTable[t] = append(byTable[t], r)
	}
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		for _, t := range order {
			recs := byTable[t]
			cols := recs[0].columns()
			tmp := "history_in_" + t
			if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP", tmp, t)); err != nil {
				return err
			}
			rows := make([][]any, len(recs))
			for i, r := range recs {
				rows[i] = r.values()
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{tmp}, cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %d rows into %s: %w", len(rows), t, err)
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT * FROM %s ON CONFLICT DO NOTHING", t, tmp)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.buf = append(w.buf[:0:0], w.buf[n:]...)
	w.mu.Unlock()
	w.written.Add(uint64(n))
	return nil
}

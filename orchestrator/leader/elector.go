package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the key-value bucket of the lease; Key its entry.
const (
	Bucket = "baton-leader"
	Key    = "orchestrator"
)

// DefaultTTL is how long the lease holds without a renewal. 500 ms puts a
// failover (detection, then the new leader's start) under a second on this
// kind of machine (`baton bench failover`); a leader that cannot renew for
// that long (a paused or starved process) is deposed.
const DefaultTTL = 500 * time.Millisecond

// MinTTL is the shortest lease New takes.
const MinTTL = 100 * time.Millisecond

// ErrDeposed means another replica took the lease this one held.
var ErrDeposed = errors.New("another replica took the leader's lease")

// Config configures an Elector.
type Config struct {
	JS jetstream.JetStream
	// ID names this replica, unique among them; URL is where it serves
	// the API (standbys forward to the leader's).
	ID, URL string
	// TTL is how long the lease holds without a renewal (DefaultTTL when
	// zero); the leader renews it every TTL/5.
	TTL time.Duration
	// Replicas of the bucket in a NATS cluster (default 1).
	Replicas int
	// Announce, when set, is called with the lease when this replica
	// takes it and every second while it renews it: the
	// orchestrator tells the workers its term, so that they learn a new
	// term before a deposed leader can reach them.
	Announce func(Holder)
	Logger   *slog.Logger
}

// Elector campaigns for the lease, holds it once it has it, and keeps
// the view of who leads.
type Elector struct {
	cfg     Config
	kv      jetstream.KeyValue
	elected chan Holder
	deposed chan struct{}

	// snapshot is view as of the last step, for View: readers (a standby
	// forwarding each request) never wait on mu, which a step holds
	// across its writes to the bucket.
	snapshot atomic.Pointer[View]
	// announced is when Announce was last called.
	announced time.Time

	mu       sync.Mutex
	view     View
	leading  bool
	resigned bool // watches the lease, never takes it
	mine     Holder
}

// New opens (or creates) the lease's bucket.
func New(ctx context.Context, cfg Config) (*Elector, error) {
	switch {
	case cfg.TTL == 0:
		cfg.TTL = DefaultTTL
	case cfg.TTL < MinTTL:
		return nil, fmt.Errorf("leader: flag --lease-ttl %s: want at least %s (a lease renewed every fifth of it)", cfg.TTL, MinTTL)
	}
	if cfg.JS == nil || cfg.ID == "" {
		return nil, errors.New("leader: a JetStream context and a replica ID are required")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	kv, err := cfg.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, History: 1, Storage: jetstream.FileStorage, Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("leader: open key-value bucket %s: %w", Bucket, err)
	}
	return &Elector{cfg: cfg, kv: kv, elected: make(chan Holder, 1), deposed: make(chan struct{})}, nil
}

// Elected receives this replica's Holder once it takes the lease.
func (e *Elector) Elected() <-chan Holder { return e.elected }

// Deposed is closed when another replica took the lease this one held:
// Run returns ErrDeposed and the replica must stop acting as leader.
func (e *Elector) Deposed() <-chan struct{} { return e.deposed }

// View is the lease as this replica last saw it.
func (e *Elector) View() View {
	if v := e.snapshot.Load(); v != nil {
		return *v
	}
	return View{}
}

// Run campaigns and, once leader, renews the lease until ctx is done
// (then releases it, so a standby takes over at once) or another replica
// takes it (ErrDeposed). Errors reaching the bucket are retried: a leader
// cut off from the bus keeps its lease until someone else takes it.
func (e *Elector) Run(ctx context.Context) error {
	tick := time.NewTicker(e.cfg.TTL / 5)
	defer tick.Stop()
	var lastErr time.Time
	for {
		if err := e.step(ctx); err != nil {
			if errors.Is(err, ErrDeposed) {
				return err
			}
			if ctx.Err() == nil && time.Since(lastErr) > 10*e.cfg.TTL {
				e.cfg.Logger.Warn("leader lease: cannot reach the bucket; retrying", "err", err)
				lastErr = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			e.release()
			return nil
		case <-tick.C:
		}
	}
}

// step reads the lease and does what Decide says.
func (e *Elector) step(ctx context.Context) error {
	asked := time.Now()
	entry, err := e.kv.Get(ctx, Key)
	now := time.Now()
	// A read that took longer than a tick waited on the bus (it was down,
	// and the request waited for it to come back): renewals were unseen
	// meanwhile, not missed.
	slow := now.Sub(asked) > e.cfg.TTL/5
	e.mu.Lock()
	defer e.mu.Unlock()
	defer func() { v := e.view; e.snapshot.Store(&v) }()
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		e.view = View{Changed: now}
	case err != nil:
		e.view.Changed = now // unseen, not missed
		return fmt.Errorf("read the lease: %w", err)
	case slow && entry.Revision() == e.view.Revision:
		e.view.Changed = now
	case entry.Revision() != e.view.Revision:
		var h Holder
		if err := json.Unmarshal(entry.Value(), &h); err != nil {
			return fmt.Errorf("read the lease: %w", err)
		}
		e.view = View{Exists: true, Holder: h, Revision: entry.Revision(), Changed: now}
	}
	if e.leading && (e.view.Holder.ID != e.cfg.ID || e.view.Holder.Term != e.mine.Term) {
		e.leading = false
		close(e.deposed)
		return fmt.Errorf("term %d: %w (replica %s, term %d)", e.mine.Term, ErrDeposed, e.view.Holder.ID, e.view.Holder.Term)
	}
	if e.resigned {
		return nil
	}
	switch Decide(now, e.cfg.ID, e.leading, e.view, e.cfg.TTL) {
	case Create:
		return e.take(now, 1, func(b []byte) (uint64, error) { return e.kv.Create(ctx, Key, b) })
	case TakeOver:
		rev := e.view.Revision
		return e.take(now, e.view.Holder.Term+1, func(b []byte) (uint64, error) { return e.kv.Update(ctx, Key, b, rev) })
	case Renew:
		b, _ := json.Marshal(e.mine)
		rev, err := e.kv.Update(ctx, Key, b, e.view.Revision)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil // the next read says who took it
		}
		if err != nil {
			return fmt.Errorf("renew the lease: %w", err)
		}
		e.view.Revision, e.view.Changed = rev, now
		if now.Sub(e.announced) >= announceEvery {
			e.announce()
		}
	}
	return nil
}

// take writes this replica into the lease at term with write; on success
// it leads.
func (e *Elector) take(now time.Time, term uint64, write func([]byte) (uint64, error)) error {
	h := Holder{ID: e.cfg.ID, URL: e.cfg.URL, Term: term, Since: now}
	b, _ := json.Marshal(h)
	rev, err := write(b)
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil // another replica was first
	}
	if err != nil {
		return fmt.Errorf("take the lease: %w", err)
	}
	e.view = View{Exists: true, Holder: h, Revision: rev, Changed: now}
	e.mine, e.leading = h, true
	e.announce()
	e.cfg.Logger.Info("leading: took the lease", "replica", h.ID, "term", h.Term)
	e.elected <- h
	return nil
}

// announceEvery is how often a leader announces its term again while it
// renews: the announcement that matters is the one at the takeover; the
// repeats reach workers that were away, without a message to every
// worker at every renewal.
const announceEvery = time.Second

// announce tells Announce the lease (best effort: it is repeated every
// announceEvery).
func (e *Elector) announce() {
	e.announced = time.Now()
	if e.cfg.Announce != nil {
		e.cfg.Announce(e.mine)
	}
}

// TTL is how long the lease holds without a renewal.
func (e *Elector) TTL() time.Duration { return e.cfg.TTL }

// Resign gives the lease up, if this replica holds it, so that a standby
// takes over without waiting out the TTL, and campaigns no more; Run
// keeps the view of who leads current until its context ends.
func (e *Elector) Resign() {
	e.release()
}

// release gives the lease up and stops campaigning.
func (e *Elector) release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resigned = true
	if !e.leading {
		return
	}
	e.leading = false
	h := e.mine
	h.Released = true
	b, _ := json.Marshal(h)
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.TTL)
	defer cancel()
	_, err := e.kv.Update(ctx, Key, b, e.view.Revision)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// A renewal cut off by Run's end may have been written without
		// its answer: the lease is still this term's at a newer
		// revision. Release that one; never another replica's.
		var entry jetstream.KeyValueEntry
		if entry, err = e.kv.Get(ctx, Key); err == nil {
			var cur Holder
			if json.Unmarshal(entry.Value(), &cur) == nil && cur.ID == h.ID && cur.Term == h.Term && !cur.Released {
				_, err = e.kv.Update(ctx, Key, b, entry.Revision())
			}
		}
	}
	if err != nil {
		e.cfg.Logger.Warn("leader lease: could not release it; a standby takes over once it expires", "err", err)
	}
}

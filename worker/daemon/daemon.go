// Package daemon is the worker daemon: it connects one sandbox Runtime to
// NATS, serving create, delete and list requests from the orchestrator and
// publishing heartbeats with the worker's capacity and allocation.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
	"baton.dev/baton/worker/protocol"
)

// Config configures a Daemon.
type Config struct {
	// ID names the worker; it must be unique in the cluster and a valid
	// NATS subject token.
	ID      string
	Conn    *nats.Conn
	Runtime worker.Runtime
	// CPUMilli and MemoryBytes are the capacity offered for sandboxes:
	// placement never reserves more. CPUMilli is already multiplied by
	// CPUAllocationRatio, which is reported for operators.
	CPUMilli           int64
	CPUAllocationRatio float64
	MemoryBytes        int64
	// HeartbeatInterval defaults to 200ms.
	HeartbeatInterval time.Duration
	// FullHeartbeatEvery, above 1, sends a full heartbeat (JSON) only
	// when the worker's state changed since the last one or every
	// FullHeartbeatEvery-th beat, and short protocol.Beats between: a
	// worker is still heard from every interval (failure detection is
	// unchanged) at a fraction of the orchestrator's decoding cost. An
	// orchestrator older than protocol.Beat ignores Beats and would take
	// the worker for dead between full heartbeats: 0 or 1 (the default)
	// sends every heartbeat full.
	FullHeartbeatEvery int
	// MaxConcurrentCreates bounds sandbox creations in flight (default 32).
	MaxConcurrentCreates int
	// DeleteOnExit makes Run delete every sandbox of the runtime before it
	// returns, once no request is in flight any more: a creation that was
	// running when the worker was told to stop is deleted too.
	DeleteOnExit bool
	// Incarnation, Machine and Reclaimed go into every heartbeat (see
	// protocol.Heartbeat).
	Incarnation, Machine string
	Reclaimed            []string
	Logger               *slog.Logger
}

// Daemon serves one worker's sandboxes over NATS.
type Daemon struct {
	cfg  Config
	log  *slog.Logger
	sem  chan struct{}
	mu   sync.Mutex
	live map[string]worker.Sandbox // sandboxes this worker runs
	// allocated sums live's CPU and memory limits, kept with live (see
	// track and forget), so that a heartbeat reads it without walking
	// live: at 10,000 workers of a simulated cluster that walk, over
	// memory long out of cache, was a third of their process's CPU.
	allocatedCPUMilli, allocatedMemoryBytes int64
	images                                  []string
	// wg counts the requests in flight; once stopping is set (under mu)
	// no more are counted, so Wait is not raced by a late Add.
	wg       sync.WaitGroup
	stopping bool
	// term is the newest orchestrator leadership term seen (fence).
	term atomic.Uint64
	// lastFull is the last full heartbeat sent and sinceFull the Beats
	// sent since (FullHeartbeatEvery); only the heartbeat loop uses them.
	lastFull  *protocol.Heartbeat
	sinceFull int
}

// New returns a Daemon; Run starts it.
func New(cfg Config) *Daemon {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 200 * time.Millisecond
	}
	if cfg.MaxConcurrentCreates <= 0 {
		cfg.MaxConcurrentCreates = 32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Daemon{
		cfg:  cfg,
		log:  cfg.Logger.With("worker", cfg.ID),
		sem:  make(chan struct{}, cfg.MaxConcurrentCreates),
		live: map[string]worker.Sandbox{},
	}
}

// Run serves until ctx is done. It first adopts the sandboxes the runtime
// already has (a worker restart keeps its warm sandboxes), then subscribes
// and heartbeats. It returns after every request in flight has finished
// (and, with DeleteOnExit, every sandbox is deleted).
func (d *Daemon) Run(ctx context.Context) (err error) {
	defer func() {
		d.mu.Lock()
		d.stopping = true
		d.mu.Unlock()
		d.wg.Wait()
		if d.cfg.DeleteOnExit {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			err = errors.Join(err, d.DeleteAll(dctx))
		}
	}()
	existing, err := d.cfg.Runtime.List(ctx)
	if err != nil {
		return fmt.Errorf("worker %s: list existing sandboxes: %w", d.cfg.ID, err)
	}
	d.mu.Lock()
	for _, sb := range existing {
		d.trackLocked(sb)
	}
	d.mu.Unlock()

	nc := d.cfg.Conn
	subs := []struct {
		subject string
		handle  func(context.Context, *nats.Msg)
	}{
		{protocol.CreateSubject(d.cfg.ID), d.handleCreate},
		{protocol.DeleteSubject(d.cfg.ID), d.handleDelete},
		{protocol.ListSubject(d.cfg.ID), d.handleList},
		{protocol.VerifySubject(d.cfg.ID), d.handleVerify},
		{protocol.ExitSubject(d.cfg.ID), d.handleExit},
	}
	leaderSub, err := nc.Subscribe(protocol.LeaderSubject, d.onLeader)
	if err != nil {
		return fmt.Errorf("worker %s: subscribe %s: %w", d.cfg.ID, protocol.LeaderSubject, err)
	}
	defer leaderSub.Unsubscribe() //nolint:errcheck // best effort on shutdown
	for _, s := range subs {
		handle := s.handle
		sub, err := nc.Subscribe(s.subject, func(m *nats.Msg) {
			d.mu.Lock()
			stopping := d.stopping
			if !stopping {
				d.wg.Add(1)
			}
			d.mu.Unlock()
			if stopping {
				return // the asker times out, as with a worker gone
			}
			go func() {
				defer d.wg.Done()
				handle(ctx, m)
			}()
		})
		if err != nil {
			return fmt.Errorf("worker %s: subscribe %s: %w", d.cfg.ID, s.subject, err)
		}
		defer sub.Unsubscribe() //nolint:errcheck // best effort on shutdown
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("worker %s: flush subscriptions: %w", d.cfg.ID, err)
	}
	// The server answers a subscription it refuses before the flush's
	// answer: a worker whose credentials are another worker's would
	// otherwise run and never hear a command.
	if err := nc.LastError(); errors.Is(err, nats.ErrPermissionViolation) {
		return fmt.Errorf("worker %s: the NATS server refused its subjects (its --nats-creds are not worker %s's): %w", d.cfg.ID, d.cfg.ID, err)
	}
	d.log.Info("worker ready", "runtime", d.cfg.Runtime.Name(), "cpuMilli", d.cfg.CPUMilli, "memoryBytes", d.cfg.MemoryBytes, "adopted", len(existing))

	// Images change rarely and listing them can be slow on a busy
	// runtime: they are refreshed apart, so heartbeats never wait on it.
	d.refreshImages(ctx)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.refreshImages(ctx)
			}
		}
	}()
	// The first beat goes at once; the rest at a random phase of the
	// interval, so that many workers started together do not beat in
	// step and hand the orchestrator a burst every interval.
	d.heartbeat()
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(rand.N(d.cfg.HeartbeatInterval)):
	}
	tick := time.NewTicker(d.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		d.heartbeat()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (d *Daemon) refreshImages(ctx context.Context) {
	imgs, err := d.cfg.Runtime.Images(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("list images", "err", err)
		}
		return
	}
	// Heartbeats name only the local images (baton.local/…), which a
	// deploy must find on some worker. Images pulled from registries are
	// tenants' (their names are theirs to keep), pulled on demand and
	// collected by the cache: naming them would only grow every beat.
	local := imgs[:0:0]
	for _, img := range imgs {
		if registry.Local(img) {
			local = append(local, img)
		}
	}
	d.mu.Lock()
	d.images = local
	d.mu.Unlock()
}

// DeleteAll removes every sandbox of the runtime (Run does, with
// DeleteOnExit).
func (d *Daemon) DeleteAll(ctx context.Context) error {
	list, err := d.cfg.Runtime.List(ctx)
	if err != nil {
		return fmt.Errorf("worker %s: list sandboxes: %w", d.cfg.ID, err)
	}
	var errs []error
	for _, sb := range list {
		if err := d.cfg.Runtime.Delete(ctx, sb.ID); err != nil && !errors.Is(err, worker.ErrNotFound) {
			errs = append(errs, err)
		}
		d.forget(sb.ID)
	}
	return errors.Join(errs...)
}

func (d *Daemon) heartbeat() {
	hb := protocol.Heartbeat{
		WorkerID:           d.cfg.ID,
		Runtime:            d.cfg.Runtime.Name(),
		CPUMilli:           d.cfg.CPUMilli,
		MemoryBytes:        d.cfg.MemoryBytes,
		CPUAllocationRatio: d.cfg.CPUAllocationRatio,
		Sent:               time.Now(),
		Interval:           d.cfg.HeartbeatInterval,
		Incarnation:        d.cfg.Incarnation,
		Machine:            d.cfg.Machine,
		Reclaimed:          d.cfg.Reclaimed,
	}
	d.mu.Lock()
	hb.Images = d.images
	hb.AllocatedCPUMilli, hb.AllocatedMemoryBytes = d.allocatedCPUMilli, d.allocatedMemoryBytes
	hb.Sandboxes = len(d.live)
	d.mu.Unlock()
	if d.cfg.FullHeartbeatEvery > 1 && d.lastFull != nil && d.sinceFull+1 < d.cfg.FullHeartbeatEvery && sameState(*d.lastFull, hb) {
		d.sinceFull++
		data := protocol.EncodeBeat(nil, protocol.Beat{Incarnation: hb.Incarnation, Sent: hb.Sent})
		if err := d.cfg.Conn.Publish(protocol.HeartbeatSubject(d.cfg.ID), data); err != nil {
			d.log.Warn("publish heartbeat", "err", err)
		}
		return
	}
	d.lastFull, d.sinceFull = &hb, 0
	data, err := json.Marshal(hb)
	if err != nil {
		d.log.Error("encode heartbeat", "err", err)
		return
	}
	if err := d.cfg.Conn.Publish(protocol.HeartbeatSubject(d.cfg.ID), data); err != nil {
		d.log.Warn("publish heartbeat", "err", err)
	}
}

// sameState reports whether two heartbeats say the same but for when
// they were sent.
func sameState(a, b protocol.Heartbeat) bool {
	return a.Runtime == b.Runtime && a.CPUMilli == b.CPUMilli && a.MemoryBytes == b.MemoryBytes && a.CPUAllocationRatio == b.CPUAllocationRatio &&
		a.AllocatedCPUMilli == b.AllocatedCPUMilli && a.AllocatedMemoryBytes == b.AllocatedMemoryBytes && a.Sandboxes == b.Sandboxes &&
		slices.Equal(a.Images, b.Images) && a.Interval == b.Interval && a.Incarnation == b.Incarnation && a.Machine == b.Machine &&
		slices.Equal(a.Reclaimed, b.Reclaimed)
}

func (d *Daemon) handleCreate(ctx context.Context, m *nats.Msg) {
	var req protocol.CreateRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		d.reply(m, protocol.CreateReply{Error: &protocol.Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("decode create request: %v", err)}})
		return
	}
	if err := d.fence(req.Term); err != nil {
		d.log.Warn("refusing a deposed orchestrator's create", "id", req.Spec.ID, "err", err)
		d.reply(m, protocol.CreateReply{Error: protocol.ToError(err)})
		return
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		d.reply(m, protocol.CreateReply{Error: &protocol.Error{Code: protocol.CodeInternal, Message: "worker shutting down"}})
		return
	}
	defer func() { <-d.sem }()
	sb, err := d.cfg.Runtime.Create(ctx, req.Spec)
	if err != nil {
		d.log.Warn("create sandbox", "id", req.Spec.ID, "function", req.Spec.Function, "err", err)
		d.reply(m, protocol.CreateReply{Error: protocol.ToError(err)})
		return
	}
	d.mu.Lock()
	d.trackLocked(sb)
	d.mu.Unlock()
	d.log.Debug("sandbox created", "id", sb.ID, "function", sb.Function, "coldStart", sb.ColdStart.Total)
	d.reply(m, protocol.CreateReply{Sandbox: &sb})
}

func (d *Daemon) handleDelete(ctx context.Context, m *nats.Msg) {
	var req protocol.DeleteRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		d.reply(m, protocol.DeleteReply{Error: &protocol.Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("decode delete request: %v", err)}})
		return
	}
	if err := d.fence(req.Term); err != nil {
		d.log.Warn("refusing a deposed orchestrator's delete", "id", req.ID, "err", err)
		d.reply(m, protocol.DeleteReply{Error: protocol.ToError(err)})
		return
	}
	err := d.cfg.Runtime.Delete(ctx, req.ID)
	if err == nil || errors.Is(err, worker.ErrNotFound) {
		d.forget(req.ID)
	}
	if err != nil {
		d.log.Warn("delete sandbox", "id", req.ID, "err", err)
	}
	d.reply(m, protocol.DeleteReply{Error: protocol.ToError(err)})
}

func (d *Daemon) handleList(ctx context.Context, m *nats.Msg) {
	list, err := d.cfg.Runtime.List(ctx)
	d.reply(m, protocol.ListReply{Sandboxes: list, Error: protocol.ToError(err)})
}

// handleVerify answers whether a connection ends in one of this worker's
// sandboxes. A mismatch is logged: something else answers at a sandbox's
// address.
func (d *Daemon) handleVerify(ctx context.Context, m *nats.Msg) {
	var req protocol.VerifyRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		d.reply(m, protocol.VerifyReply{Error: &protocol.Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("decode verify request: %v", err)}})
		return
	}
	err := d.cfg.Runtime.Verify(ctx, req.ID, req.Conn)
	if errors.Is(err, worker.ErrIdentity) {
		d.log.Error("a connection to a sandbox does not end in it: something else answers at its address", "id", req.ID, "conn", req.Conn.String(), "err", err)
	}
	d.reply(m, protocol.VerifyReply{Error: protocol.ToError(err)})
}

// handleExit answers why one of this worker's sandboxes stopped
// answering (worker.ExitReporter); a runtime that cannot tell answers
// with the zero reason.
func (d *Daemon) handleExit(ctx context.Context, m *nats.Msg) {
	var req protocol.ExitRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		d.reply(m, protocol.ExitReply{Error: &protocol.Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("decode exit request: %v", err)}})
		return
	}
	var reason worker.ExitReason
	var err error
	if er, ok := d.cfg.Runtime.(worker.ExitReporter); ok {
		reason, err = er.Exit(ctx, req.ID)
	}
	if reason.OutOfMemory {
		d.log.Warn("a sandbox ran out of memory and was killed", "id", req.ID)
	}
	d.reply(m, protocol.ExitReply{Reason: reason, Error: protocol.ToError(err)})
}

// trackLocked adds sb to the live sandboxes (in place of one of the same
// ID) and to what they are allocated.
func (d *Daemon) trackLocked(sb worker.Sandbox) {
	d.untrackLocked(sb.ID)
	d.live[sb.ID] = sb
	d.allocatedCPUMilli += sb.CPUMilli
	d.allocatedMemoryBytes += sb.MemoryBytes
}

// untrackLocked removes sandbox id from the live ones and from what they
// are allocated.
func (d *Daemon) untrackLocked(id string) {
	if old, ok := d.live[id]; ok {
		delete(d.live, id)
		d.allocatedCPUMilli -= old.CPUMilli
		d.allocatedMemoryBytes -= old.MemoryBytes
	}
}

func (d *Daemon) forget(id string) {
	d.mu.Lock()
	d.untrackLocked(id)
	d.mu.Unlock()
}

func (d *Daemon) reply(m *nats.Msg, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		d.log.Error("encode reply", "err", err)
		return
	}
	if err := m.Respond(data); err != nil {
		d.log.Warn("reply", "subject", m.Subject, "err", err)
	}
}

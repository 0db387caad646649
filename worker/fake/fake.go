// Package fake is a sandbox runtime FOR SCALE SIMULATION ONLY: its
// sandboxes are entries in a map, not processes or containers. It lets one
// machine simulate a cluster of many workers (internal/simcluster, `baton
// bench controlplane`), where what is measured is the orchestrator, NATS
// and the worker daemon, not the sandboxes.
//
// It still keeps the worker.Runtime contract honestly, so that it passes
// the conformance suite worker/sandboxtest: each Runtime serves one
// in-process HTTP listener on 127.0.0.1, and every sandbox is a path on it
// (http://127.0.0.1:PORT/sb/ID) that answers GET /healthz and POST / as the
// sandbox's image says (see Mode). A deleted sandbox's paths answer 404.
// It never isolates anything and never enforces CPU or memory limits.
package fake

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"baton.dev/baton/backoff"
	"baton.dev/baton/worker"
)

// Mode is how the sandboxes of one image behave, after the test function
// (internal/testfn) they stand in for.
type Mode string

// Modes of a fake image.
const (
	// ModeEcho: POST / answers 200 with the request body.
	ModeEcho Mode = "ok"
	// ModeFail500: POST / answers 500 "testfn: failing by design".
	ModeFail500 Mode = "fail500"
	// ModeCrash: POST / drops the connection without answering and the
	// sandbox stays crashed (GET /healthz fails from then on).
	ModeCrash Mode = "crash"
	// ModeUnhealthy: GET /healthz answers 503, so Create fails with
	// worker.ErrUnhealthy once the spec's health timeout has passed.
	ModeUnhealthy Mode = "unhealthy"
	// ModeSlow: POST / answers 200 with the request body after SlowCall,
	// to hold a sandbox busy (no test function image has this mode).
	ModeSlow Mode = "slow"
)

// SlowCall is how long a ModeSlow sandbox takes to answer.
const SlowCall = 300 * time.Millisecond

// defaultHealthTimeout is used when a spec leaves HealthTimeout zero, as
// the real runtimes do.
const defaultHealthTimeout = 30 * time.Second

// DefaultImages maps the four test function images
// (baton.local/testfn-MODE:v1) to their modes.
func DefaultImages() map[string]Mode {
	return map[string]Mode{
		"baton.local/testfn-ok:v1":        ModeEcho,
		"baton.local/testfn-fail500:v1":   ModeFail500,
		"baton.local/testfn-crash:v1":     ModeCrash,
		"baton.local/testfn-unhealthy:v1": ModeUnhealthy,
	}
}

// Config configures a fake Runtime.
type Config struct {
	// Images maps each image reference the runtime "has" to its
	// behaviour; nil means DefaultImages().
	Images map[string]Mode
	// CreateLatency is how long each Create sleeps, to stand in for a
	// real cold start (default 0).
	CreateLatency time.Duration
}

// Runtime is the fake runtime. It implements worker.Runtime and is safe
// for concurrent use.
type Runtime struct {
	cfg    Config
	images []string       // sorted, for Images and error messages
	base   string         // http://127.0.0.1:PORT
	addr   netip.AddrPort // the listener's, for Verify
	srv    *http.Server
	served chan struct{} // closed when Serve returns

	busy worker.Claims // IDs being created or deleted
	mu   sync.Mutex
	live map[string]*sandbox
	// conns holds the client end of every connection the listener has
	// open, for Verify. All fake sandboxes share the listener, so a
	// connection to one reaches every other's path too.
	conns map[netip.AddrPort]bool

	closeOnce sync.Once
	closeErr  error
}

// sandbox is one fake sandbox.
type sandbox struct {
	sb      worker.Sandbox
	mode    Mode
	mu      sync.Mutex
	crashed bool
}

var _ worker.Runtime = (*Runtime)(nil)

// Open starts the runtime's HTTP listener on a free port of 127.0.0.1.
// Close stops it.
func Open(cfg Config) (*Runtime, error) {
	if cfg.Images == nil {
		cfg.Images = DefaultImages()
	}
	if cfg.CreateLatency < 0 {
		return nil, fmt.Errorf("fake runtime: CreateLatency %v is negative", cfg.CreateLatency)
	}
	images := make([]string, 0, len(cfg.Images))
	for ref, m := range cfg.Images {
		switch m {
		case ModeEcho, ModeFail500, ModeCrash, ModeUnhealthy, ModeSlow:
		default:
			return nil, fmt.Errorf("fake runtime: image %s: mode %q: want ok, fail500, crash, unhealthy or slow", ref, m)
		}
		images = append(images, ref)
	}
	sort.Strings(images)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake runtime: listen: %w", err)
	}
	r := &Runtime{
		cfg: cfg, images: images, base: "http://" + ln.Addr().String(), addr: ln.Addr().(*net.TCPAddr).AddrPort(),
		served: make(chan struct{}), live: map[string]*sandbox{}, conns: map[netip.AddrPort]bool{},
	}
	r.srv = &http.Server{Handler: r.handler(), ReadHeaderTimeout: 10 * time.Second, ConnState: r.track}
	go func() {
		defer close(r.served)
		_ = r.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return r, nil
}

// Name returns "fake".
func (r *Runtime) Name() string { return "fake" }

// Images lists the configured image references.
func (r *Runtime) Images(context.Context) ([]string, error) {
	return append([]string(nil), r.images...), nil
}

// Create registers a sandbox after sleeping Config.CreateLatency. For an
// image in ModeUnhealthy it waits for the spec's health timeout and fails
// with worker.ErrUnhealthy, leaving nothing behind.
func (r *Runtime) Create(ctx context.Context, spec worker.SandboxSpec) (worker.Sandbox, error) {
	start := time.Now()
	if err := spec.Validate(); err != nil {
		return worker.Sandbox{}, err
	}
	mode, ok := r.cfg.Images[spec.Image]
	if !ok {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: image %s: %w (the fake runtime has: %s)",
			spec.ID, spec.Image, worker.ErrImageNotFound, strings.Join(r.images, ", "))
	}
	if !r.busy.Try(spec.ID) {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: being created or deleted: %w", spec.ID, worker.ErrExists)
	}
	defer r.busy.Release(spec.ID)
	r.mu.Lock()
	_, exists := r.live[spec.ID]
	r.mu.Unlock()
	if exists {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, worker.ErrExists)
	}
	endpoint := r.base + "/sb/" + spec.ID
	if err := backoff.Sleep(ctx, r.cfg.CreateLatency); err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: create: %w", spec.ID, err)
	}
	started := time.Now()
	if mode == ModeUnhealthy {
		timeout := spec.HealthTimeout
		if timeout <= 0 {
			timeout = defaultHealthTimeout
		}
		if err := backoff.Sleep(ctx, timeout); err != nil {
			return worker.Sandbox{}, fmt.Errorf("sandbox %s: wait for GET %s/healthz: %w", spec.ID, endpoint, err)
		}
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w: GET %s/healthz did not answer 200 within %s (fake image %s is unhealthy)",
			spec.ID, worker.ErrUnhealthy, endpoint, timeout, spec.Image)
	}
	now := time.Now()
	sb := worker.Sandbox{
		ID: spec.ID, Function: spec.Function, Image: spec.Image,
		CPUMilli: spec.CPUMilli, MemoryBytes: spec.MemoryBytes, Endpoint: endpoint,
		ColdStart: worker.ColdStart{Start: started.Sub(start), Healthy: now.Sub(started), Total: max(now.Sub(start), time.Nanosecond)},
		Created:   now,
	}
	r.mu.Lock()
	r.live[spec.ID] = &sandbox{sb: sb, mode: mode}
	r.mu.Unlock()
	return sb, nil
}

// Delete forgets a sandbox; its endpoint answers 404 from then on.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if err := r.busy.Wait(ctx, id); err != nil {
		return err
	}
	defer r.busy.Release(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.live[id]; !ok {
		return fmt.Errorf("sandbox %s: %w", id, worker.ErrNotFound)
	}
	delete(r.live, id)
	return nil
}

// List returns the sandboxes the runtime has, sorted by ID. They do not
// survive the Runtime: a new one starts empty.
func (r *Runtime) List(context.Context) ([]worker.Sandbox, error) {
	r.mu.Lock()
	out := make([]worker.Sandbox, 0, len(r.live))
	for _, s := range r.live {
		out = append(out, s.sb)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Close stops the HTTP listener; the sandboxes' endpoints stop answering.
// Closing twice is not an error.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() {
		if err := r.srv.Close(); err != nil {
			r.closeErr = fmt.Errorf("fake runtime: close listener: %w", err)
		}
		<-r.served
	})
	return r.closeErr
}

// track keeps Runtime.conns current.
func (r *Runtime) track(c net.Conn, st http.ConnState) {
	if st != http.StateNew && st != http.StateClosed && st != http.StateHijacked {
		return // every request's active and idle: nothing to do
	}
	tcp, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return
	}
	ap := netip.AddrPortFrom(tcp.AddrPort().Addr().Unmap(), tcp.AddrPort().Port())
	r.mu.Lock()
	defer r.mu.Unlock()
	switch st {
	case http.StateNew:
		r.conns[ap] = true
	case http.StateClosed, http.StateHijacked:
		delete(r.conns, ap)
	}
}

// Verify checks that c is a connection the runtime's listener has open
// and that sandbox id exists. The fake's sandboxes share one listener, so
// it cannot tell one sandbox's connection from another's.
func (r *Runtime) Verify(ctx context.Context, id string, c worker.Conn) error {
	// The listener may not have accepted the connection yet.
	var live, open bool
	for wait := 50 * time.Microsecond; ; wait *= 2 {
		r.mu.Lock()
		_, live = r.live[id]
		open = r.conns[c.Client]
		r.mu.Unlock()
		if !live || open || wait > 100*time.Millisecond {
			break
		}
		if err := backoff.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("sandbox %s: verify %s: %w", id, c, err)
		}
	}
	switch {
	case !live:
		return fmt.Errorf("sandbox %s: %w", id, worker.ErrNotFound)
	case c.Server != r.addr || !open:
		return fmt.Errorf("sandbox %s: %w: no connection %s on the fake runtime's listener", id, worker.ErrIdentity, c)
	}
	return ctx.Err()
}

// lookup returns the live sandbox id.
func (r *Runtime) lookup(id string) (*sandbox, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.live[id]
	return s, ok
}

package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/orchestrator/leader"
	"baton.dev/baton/worker/protocol"
)

// ReplicaConfig configures one orchestrator replica (StartReplica).
type ReplicaConfig struct {
	ControlPlaneConfig
	// ID names the replica, unique among them.
	ID string
	// Advertise is the URL the other replicas forward requests to
	// (default: the API's listening address).
	Advertise string
	// LeaseTTL is how long the leader's lease holds without a renewal
	// (leader.DefaultTTL when zero): a standby takes over that long after
	// the leader stops renewing.
	LeaseTTL time.Duration
}

// Replica is one orchestrator among several against one NATS cluster.
// All serve the whole API: the leader (elected through a lease, package
// leader) runs the orchestrator; a standby forwards every request to it,
// its own orchestrator keeping warm meanwhile (definitions, logins and
// workers followed, nothing acted on), so that it leads without a reload.
// A leader that another replica deposed stops its orchestrator and ends
// (Ended), to be started again as a standby: fail-stop, so that no state
// of a deposed term lives on.
type Replica struct {
	// URL is where this replica serves the API; Token and AdminToken are
	// the bootstrap keys (ControlPlane's).
	URL, Token, AdminToken string
	cfg                    ReplicaConfig

	elector *leader.Elector
	admin   *orchestrator.Keys // the bootstrap keys: /v1/cluster needs the admin's
	srv     *http.Server
	served  chan struct{}

	control *ControlPlane           // the orchestrator: a warm standby until elected
	cp      atomic.Pointer[leading] // set while leading
	proxyMu sync.Mutex
	proxyTo string
	proxy   *httputil.ReverseProxy

	stopElector context.CancelFunc
	elected     chan struct{} // closed once the orchestrator runs
	ended       chan struct{}
	endErr      error
}

// maxForwardedBody bounds a request body a standby forwards (it holds
// it, to send it again if the leader cannot be reached); the leader's own
// bounds are lower (an invocation's input: 6 MiB by default).
const maxForwardedBody = 16 << 20

// forwardFailure carries, in a forwarded request's context, that the
// leader could not be reached.
type forwardFailure struct{ err error }

type forwardFailureKey struct{}

// forwardedHeader marks a request a standby forwarded, so that a replica
// that is not the leader either (views out of date) does not forward it
// again.
const forwardedHeader = "Baton-Forwarded-By"

// StartReplica serves the API on cfg.Listen and campaigns for the lease.
func StartReplica(ctx context.Context, cfg ReplicaConfig) (*Replica, error) {
	if cfg.Conn == nil || cfg.DataDir == "" || cfg.ID == "" {
		return nil, errors.New("replica: a NATS connection, a data directory and a replica ID are required")
	}
	if err := protocol.CheckWorkerID(cfg.ID); err != nil { // one NATS token, as a worker's
		return nil, fmt.Errorf("replica: flag --replica-id: %w", err)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("replica: data directory: %w", err)
	}
	load := loadKeys
	if cfg.Token == "" && cfg.AdminToken == "" && storedKeys(cfg.DataDir) {
		// Another replica sharing the directory made them: use its.
		load, cfg.sharedKeys = loadStoredKeys, true
	}
	keys, token, admin, err := load(cfg.DataDir, cfg.Token, cfg.AdminToken)
	if err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	cfg.Token, cfg.AdminToken = token, admin
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("replica: jetstream: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("replica: listen on %s: %w", cfg.Listen, err)
	}
	r := &Replica{URL: "http://" + ln.Addr().String(), Token: token, AdminToken: admin, cfg: cfg, admin: keys, served: make(chan struct{}),
		elected: make(chan struct{}), ended: make(chan struct{})}
	if cfg.Advertise == "" {
		r.cfg.Advertise = r.URL
	}
	// A warm standby: its orchestrator follows the definitions and the
	// heartbeats from now on, and leads without a reload once elected.
	sb := r.cfg.ControlPlaneConfig
	sb.standby = true
	if r.control, err = startOrchestrator(ctx, sb); err != nil {
		ln.Close()
		return nil, fmt.Errorf("replica: %w", err)
	}
	r.control.URL, r.control.Token, r.control.AdminToken = r.URL, r.cfg.Token, r.cfg.AdminToken
	r.elector, err = leader.New(ctx, leader.Config{JS: js, ID: cfg.ID, URL: r.cfg.Advertise, TTL: cfg.LeaseTTL, Logger: cfg.Logger,
		Announce: func(h leader.Holder) {
			b, _ := json.Marshal(protocol.LeaderAnnouncement{Replica: h.ID, Term: h.Term})
			_ = cfg.Conn.Publish(protocol.LeaderSubject, b)
		}})
	if err != nil {
		ln.Close()
		_ = r.control.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("replica: %w", err)
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { defer close(r.served); _ = r.srv.Serve(ln) }()
	ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stopElector = stop
	electorDone := make(chan error, 1)
	go func() { electorDone <- r.elector.Run(ectx) }()
	go r.lead(ectx, electorDone)
	return r, nil
}

// lead starts the orchestrator once this replica is elected, and ends
// the replica when it is deposed (or its orchestrator cannot start).
func (r *Replica) lead(ctx context.Context, electorDone <-chan error) {
	select {
	case h := <-r.elector.Elected():
		cp := r.control
		if err := cp.lead(ctx, h.Term); err != nil {
			r.end(fmt.Errorf("replica %s: elected at term %d, but the orchestrator did not take over: %w", r.cfg.ID, h.Term, err))
			return
		}
		r.cp.Store(&leading{cp: cp, api: cp.Orchestrator.Handler()})
		close(r.elected)
		r.cfg.Logger.Info("replica leads: orchestrator running", "replica", r.cfg.ID, "term", h.Term)
		if err := <-electorDone; err != nil {
			r.end(fmt.Errorf("replica %s, term %d: %w", r.cfg.ID, h.Term, err))
		}
	case err := <-electorDone:
		if err != nil {
			r.end(err)
		}
	}
}

// end stops the replica's orchestrator (deposed, or it failed) and
// records why.
func (r *Replica) end(err error) {
	r.cfg.Logger.Error("replica ends: start it again to serve as a standby", "replica", r.cfg.ID, "err", err)
	r.cp.Store(nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	_ = r.control.Stop(ctx)
	cancel()
	r.endErr = err
	close(r.ended)
}

// Ended is closed when the replica stopped by itself: deposed by another
// replica (a fail-stop: start it again as a standby), or its orchestrator
// failed to start; Err says why.
func (r *Replica) Ended() <-chan struct{} { return r.ended }

// Err is why the replica ended (after Ended is closed).
func (r *Replica) Err() error { return r.endErr }

// Elected is closed once this replica leads and its orchestrator runs.
func (r *Replica) Elected() <-chan struct{} { return r.elected }

// ControlPlane is the running orchestrator while this replica leads, or
// nil.
func (r *Replica) ControlPlane() *ControlPlane {
	if l := r.cp.Load(); l != nil {
		return l.cp
	}
	return nil
}

// leading is a leader's running orchestrator and its API.
type leading struct {
	cp  *ControlPlane
	api http.Handler
}

// Stop hands the lead over (it releases the lease, so a standby takes
// over at once, and forwards requests to it meanwhile), then stops the
// orchestrator, letting the calls in flight end, and the API.
func (r *Replica) Stop(ctx context.Context) error {
	r.elector.Resign()
	defer r.stopElector()
	// New requests wait for the next leader (ServeHTTP) and go to it; the
	// calls in flight here end before the orchestrator stops.
	r.cp.Store(nil)
	if err := r.control.Stop(ctx); err != nil {
		return err
	}
	err := r.srv.Shutdown(ctx)
	<-r.served
	return err
}

// electionWait bounds, with twice the lease's TTL, how long a request
// waits for an election's outcome (ServeHTTP).
const electionWait = 5 * time.Second

// ServeHTTP serves the API: the orchestrator's while leading, else the
// leader's through this replica. During an election (no leader yet, the
// leader unreachable, or this replica elected and starting) a request
// waits for the outcome, up to electionWait and twice the lease's TTL, so
// that a failover costs clients time, not errors.
func (r *Replica) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/v1/cluster" {
		r.serveCluster(w, req)
		return
	}
	deadline := time.Now().Add(electionWait + 2*r.elector.TTL())
	var body []byte // read once to forward, so that it can be sent again
	bodyRead := false
	forwarded := req.Header.Get(forwardedHeader) != ""
	for {
		if l := r.cp.Load(); l != nil {
			if bodyRead {
				req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			}
			l.api.ServeHTTP(w, req)
			return
		}
		if req.URL.Path == "/healthz" {
			writeReplicaJSON(w, http.StatusOK, map[string]any{"status": "ok", "role": "standby", "replica": r.cfg.ID})
			return
		}
		v := r.elector.View()
		if v.Exists && !v.Holder.Released && v.Holder.ID != r.cfg.ID && !forwarded {
			if !bodyRead {
				var err error
				if body, err = io.ReadAll(io.LimitReader(req.Body, maxForwardedBody+1)); err != nil {
					return // the client went away
				}
				if len(body) > maxForwardedBody {
					writeReplicaJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("request body above %d bytes", maxForwardedBody)})
					return
				}
				bodyRead = true
			}
			fwd := &forwardFailure{}
			out := req.Clone(context.WithValue(req.Context(), forwardFailureKey{}, fwd))
			out.Header.Set(forwardedHeader, r.cfg.ID)
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			r.proxyFor(v.Holder.URL).ServeHTTP(w, out)
			if fwd.err == nil {
				return
			}
			// The leader could not be reached (nothing was sent): it may
			// be dead, and its lease about to pass to another replica.
		}
		if time.Now().After(deadline) {
			w.Header().Set("Retry-After", "1")
			writeReplicaJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no orchestrator leads (an election is under way): retry"})
			return
		}
		select {
		case <-req.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// proxyFor is the reverse proxy to the leader at target, made once per
// leader.
func (r *Replica) proxyFor(target string) *httputil.ReverseProxy {
	r.proxyMu.Lock()
	defer r.proxyMu.Unlock()
	if r.proxy != nil && r.proxyTo == target {
		return r.proxy
	}
	u, err := url.Parse(target)
	if err != nil {
		u = &url.URL{Scheme: "http", Host: "invalid"}
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	p.ErrorHandler = func(w http.ResponseWriter, req *http.Request, err error) {
		if f, ok := req.Context().Value(forwardFailureKey{}).(*forwardFailure); ok && client.NotSent(err) {
			f.err = err // nothing sent, nothing written: ServeHTTP tries again
			return
		}
		w.Header().Set("Retry-After", "1")
		writeReplicaJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the leading orchestrator did not answer: retry"})
	}
	r.proxy, r.proxyTo = p, target
	return p
}

// serveCluster is GET /v1/cluster (the admin key): who leads, its term
// and since when, as this replica sees it.
func (r *Replica) serveCluster(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		writeReplicaJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET only"})
		return
	}
	key, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if p, ok := r.admin.Lookup(key); !ok || !p.Admin {
		writeReplicaJSON(w, http.StatusForbidden, map[string]string{"error": "GET /v1/cluster needs the admin key"})
		return
	}
	view := api.ClusterView{Replica: r.cfg.ID, Role: "standby"}
	if r.cp.Load() != nil {
		view.Role = "leader"
	}
	if v := r.elector.View(); v.Exists && !v.Holder.Released {
		view.Leader = &api.LeaderView{ID: v.Holder.ID, URL: v.Holder.URL, Term: v.Holder.Term, Since: v.Holder.Since}
	}
	writeReplicaJSON(w, http.StatusOK, view)
}

func writeReplicaJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

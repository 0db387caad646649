package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/backoff"
	"baton.dev/baton/internal/localport"
	"baton.dev/baton/internal/natsd"
	"baton.dev/baton/internal/rundir"
	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/orchestrator/leader"
)

// failoverSubnet is the failover bench's worker's (apart from the other
// benches' and the tests').
const failoverSubnet = "10.187.0.0/16"

// FailoverOptions configure RunFailover.
type FailoverOptions struct {
	Local LocalOptions
	// Replicas of the orchestrator (at least 2), each a `baton
	// orchestrator` process started with OrchestratorArgs (this
	// executable's arguments that lead to it).
	Replicas         int
	OrchestratorArgs []string
	// Trials is how many times the leader is killed; Rate the invocations
	// per second sent meanwhile, open loop, through a client that knows
	// every replica; LeaseTTL the replicas' --lease-ttl.
	Trials   int
	Rate     float64
	LeaseTTL time.Duration
}

// FailoverTrial is one kill of the leader.
type FailoverTrial struct {
	Killed string `json:"killed"`
	// FailoverMs is from the SIGKILL to the answer of the first
	// invocation sent after the leader was gone that succeeded.
	FailoverMs float64 `json:"failoverMs"`
	// Failed invocations of the trial, and InFlight those in flight in
	// the leader when it died (sent before it was gone, unanswered when
	// the kill began): only those may fail.
	Failed   int `json:"failed"`
	InFlight int `json:"inFlight"`
	// FailedAfter counts the invocations sent after the leader was gone
	// that failed (target 0); FirstFailure is the first failure's error,
	// FirstFailureAfter the first of those.
	FailedAfter       int    `json:"failedAfter"`
	FirstFailure      string `json:"firstFailure,omitempty"`
	FirstFailureAfter string `json:"firstFailureAfter,omitempty"`
}

// FailoverReport is `baton bench failover`'s result.
type FailoverReport struct {
	Runtime    string          `json:"runtime"`
	Replicas   int             `json:"replicas"`
	Rate       float64         `json:"rate"`
	LeaseTTLMs float64         `json:"leaseTtlMs"`
	Trials     []FailoverTrial `json:"trials"`
	// P50Ms and MaxMs are the trials' failover times (targets: 1000 and
	// 2000).
	P50Ms float64 `json:"p50Ms"`
	MaxMs float64 `json:"maxMs"`
}

// replicaProcess is one `baton orchestrator` the bench runs.
type replicaProcess struct {
	id, url string
	args    []string
	env     []string
	log     string
	cmd     *exec.Cmd
	done    chan struct{}
}

// spawner starts child processes from one OS thread that lives as long
// as the bench. A child's Pdeathsig fires when the thread that forked it
// ends, not the process, and Go ends threads (one left locked by the
// network-namespace code of the in-process containerd worker): replicas
// started from such a thread were killed midway, silently.
type spawner struct{ reqs chan spawnReq }

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq)}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with close
		for r := range s.reqs {
			r.done <- r.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	s.reqs <- spawnReq{cmd, done}
	return <-done
}

// close ends the spawner's thread, and with it (Pdeathsig) any child
// still running: call it once the children are stopped.
func (s *spawner) close() { close(s.reqs) }

func (p *replicaProcess) start(sp *spawner) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(self, p.args...)
	p.cmd.Stdout, p.cmd.Stderr, p.cmd.Env = f, f, append(os.Environ(), p.env...)
	// The replica dies with the bench, however the bench ends.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := sp.start(p.cmd); err != nil {
		f.Close()
		return fmt.Errorf("start replica %s: %w", p.id, err)
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
	return nil
}

// stop ends the replica: SIGTERM, or kill (SIGKILL, as a crash).
func (p *replicaProcess) stop(kill bool) {
	if p.cmd == nil {
		return
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// sent is one invocation of the load.
type sent struct {
	at, done time.Time
	err      error
}

// RunFailover runs a NATS server, one worker and opts.Replicas
// orchestrator replicas on this machine, invokes a warm echo workflow at
// opts.Rate through a client that knows every replica, and kills the
// leader with SIGKILL opts.Trials times (starting the killed replica
// again, as a standby, after each).
func RunFailover(ctx context.Context, opts FailoverOptions) (rep *FailoverReport, err error) {
	if opts.Replicas < 2 || opts.Trials < 1 || opts.Rate <= 0 || len(opts.OrchestratorArgs) == 0 {
		return nil, errors.New("failover: want --replicas >= 2, --trials >= 1 and --rate > 0")
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = leader.DefaultTTL
	}
	level := slog.LevelError
	if opts.Local.Verbose {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	imgs, err := testImages(ctx, opts.Local)
	if err != nil {
		return nil, err
	}
	dir, err := rundir.New("baton-bench-", func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...)) })
	if err != nil {
		return nil, fmt.Errorf("bench data directory: %w", err)
	}
	defer dir.Remove()
	ns, err := natsd.Start(natsd.Config{Dir: filepath.Join(dir.Path, "nats"), Port: -1})
	if err != nil {
		return nil, err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return nil, fmt.Errorf("failover: connect to NATS: %w", err)
	}
	defer nc.Close()
	w, err := standalone.StartWorker(ctx, standalone.WorkerConfig{ID: "bench-w1", Conn: nc, DataDir: filepath.Join(dir.Path, "worker"),
		Runtime: opts.Local.Runtime, ImagesDir: imgs, Subnet: failoverSubnet, Logger: log})
	if err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err = errors.Join(err, w.Stop(sctx))
	}()

	token, admin := orchestrator.NewAPIKey(), orchestrator.NewAPIKey()
	secret := make([]byte, orchestrator.SecretKeySize) // the replicas share it
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	replicas := make([]*replicaProcess, opts.Replicas)
	var urls string
	for i := range replicas {
		port, err := localport.Free()
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("r%d", i+1)
		p := &replicaProcess{id: id, url: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(dir.Path, id+".log"),
			env: []string{"BATON_TOKEN=" + token, "BATON_ADMIN_TOKEN=" + admin, "BATON_SECRET_KEY=" + hex.EncodeToString(secret)}}
		p.args = append(slices.Clone(opts.OrchestratorArgs), "--nats", ns.ClientURL(), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--data", filepath.Join(dir.Path, id), "--postgres", "off", "--replica-id", id, "--lease-ttl", opts.LeaseTTL.String(), "--keep-alive", "10m")
		replicas[i] = p
		if i > 0 {
			urls += ","
		}
		urls += p.url
	}
	sp := newSpawner()
	defer func() {
		for _, p := range replicas {
			p.stop(false)
		}
		sp.close()
	}()
	for _, p := range replicas {
		if err := p.start(sp); err != nil {
			return nil, err
		}
	}
	c := &client.Client{URL: urls, Token: token, HTTP: newHTTPClient()}
	adminC := &client.Client{URL: urls, Token: admin}
	leaderSeesWorker := func() bool { // a standby's /healthz counts no workers
		for _, p := range replicas {
			if n, err := client.Health(ctx, p.url); err == nil && n == 1 {
				return true
			}
		}
		return false
	}
	if err := waitFor(ctx, time.Minute, leaderSeesWorker); err != nil {
		return nil, fmt.Errorf("failover: the replicas did not see the worker: %w", err)
	}
	if _, err := c.Deploy(ctx, "f.yaml", []byte(echoWorkflow("f", echoImage, "{}"))); err != nil {
		return nil, fmt.Errorf("failover: deploy: %w", err)
	}
	if _, err := c.Invoke(ctx, "f", []byte(`{}`)); err != nil {
		return nil, fmt.Errorf("failover: warm-up: %w", err)
	}

	var mu sync.Mutex
	var outcomes []sent
	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	load.Go(func() {
		var calls sync.WaitGroup
		defer calls.Wait()
		start := time.Now()
		for i := 0; ; i++ {
			if backoff.Sleep(loadCtx, time.Until(start.Add(time.Duration(float64(i)/opts.Rate*float64(time.Second))))) != nil {
				return
			}
			calls.Go(func() {
				at := time.Now()
				_, err := c.Invoke(ctx, "f", []byte(`{}`))
				mu.Lock()
				outcomes = append(outcomes, sent{at, time.Now(), err})
				mu.Unlock()
			})
		}
	})
	defer func() { stopLoad(); load.Wait() }()

	rep = &FailoverReport{Runtime: opts.Local.Runtime, Replicas: opts.Replicas, Rate: opts.Rate, LeaseTTLMs: ms(opts.LeaseTTL)}
	for range opts.Trials {
		if err := backoff.Sleep(ctx, 2*time.Second); err != nil { // steady load first
			return nil, err
		}
		v, err := adminC.Cluster(ctx)
		if err != nil || v.Leader == nil {
			return nil, fmt.Errorf("failover: who leads: %+v, %w", v, err)
		}
		i := slices.IndexFunc(replicas, func(p *replicaProcess) bool { return p.id == v.Leader.ID })
		if i < 0 {
			return nil, fmt.Errorf("failover: the leader %s is none of the bench's replicas", v.Leader.ID)
		}
		mu.Lock()
		from := len(outcomes)
		mu.Unlock()
		kill := time.Now()
		replicas[i].stop(true)
		dead := time.Now()
		var tr FailoverTrial
		if err := waitFor(ctx, 30*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, o := range outcomes[from:] {
				if o.err == nil && o.at.After(dead) {
					return true
				}
			}
			return false
		}); err != nil {
			mu.Lock()
			tr := countTrial(outcomes[from:], kill, dead)
			mu.Unlock()
			last := outcomes[len(outcomes)-1].err
			var logs string
			for _, p := range replicas {
				b, _ := os.ReadFile(p.log)
				logs += fmt.Sprintf("\n---- %s's log ----\n%s", p.id, b[max(0, len(b)-3000):])
			}
			return nil, fmt.Errorf("failover: no invocation succeeded within 30s of killing %s (%d sent since, %d failed, the first: %s; the last: %v)%s",
				replicas[i].id, len(outcomes)-from, tr.Failed, tr.FirstFailure, last, logs)
		}
		if err := backoff.Sleep(ctx, 2*time.Second); err != nil { // the calls in flight at the kill end
			return nil, err
		}
		mu.Lock()
		tr = countTrial(outcomes[from:], kill, dead)
		mu.Unlock()
		tr.Killed = replicas[i].id
		rep.Trials = append(rep.Trials, tr)
		if err := replicas[i].start(sp); err != nil {
			return nil, err
		}
	}
	var times []float64
	for _, t := range rep.Trials {
		times = append(times, t.FailoverMs)
	}
	slices.Sort(times)
	rep.P50Ms, rep.MaxMs = times[(len(times)-1)/2], times[len(times)-1]
	return rep, nil
}

// countTrial sorts one trial's invocations around the kill.
func countTrial(outcomes []sent, kill, dead time.Time) FailoverTrial {
	var tr FailoverTrial
	var first time.Time
	for _, o := range outcomes {
		during := o.at.Before(dead) && o.done.After(kill)
		if during {
			tr.InFlight++
		}
		switch {
		case o.err != nil:
			tr.Failed++
			if !during {
				tr.FailedAfter++
				if tr.FirstFailureAfter == "" {
					tr.FirstFailureAfter = o.err.Error()
				}
			}
			if tr.FirstFailure == "" {
				tr.FirstFailure = o.err.Error()
			}
		case o.at.After(dead) && (first.IsZero() || o.done.Before(first)):
			first = o.done
		}
	}
	tr.FailoverMs = ms(first.Sub(kill))
	return tr
}

// waitFor polls ok every 20 ms until it holds or within has passed.
func waitFor(ctx context.Context, within time.Duration, ok func() bool) error {
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", within)
		}
		if err := backoff.Sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable writes the report for people.
func (r *FailoverReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%d replicas, %s runtime, %.0f invocations/s, lease TTL %.0f ms\n", r.Replicas, r.Runtime, r.Rate, r.LeaseTTLMs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRIAL\tKILLED\tFAILOVER ms\tFAILED\tIN FLIGHT AT KILL\tFAILED AFTER")
	for i, t := range r.Trials {
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%d\t%d\t%d\n", i+1, t.Killed, t.FailoverMs, t.Failed, t.InFlight, t.FailedAfter)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, t := range r.Trials {
		if t.FailedAfter > 0 {
			fmt.Fprintf(w, "trial %d: the first failure after the leader was gone: %s\n", i+1, t.FirstFailureAfter)
		}
	}
	_, err := fmt.Fprintf(w, "failover p50 %.0f ms, max %.0f ms (targets 1000 and 2000)\n", r.P50Ms, r.MaxMs)
	return err
}

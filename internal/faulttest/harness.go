// Package faulttest runs Baton as separate processes — an orchestrator and
// workers against a NATS server — so that tests can kill, restart and
// starve them as real faults would.
package faulttest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"baton.dev/baton/internal/localport"
	"baton.dev/baton/internal/natsd"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
)

// Binary builds the baton command once per test binary into dir.
func Binary(t testing.TB, dir string) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "baton")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/baton")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build baton: %v\n%s", err, out)
	}
	return bin
}

// NATS is a NATS server with JetStream in the test process, on a fixed
// port and store, so it can be stopped and started again.
type NATS struct {
	Port int
	Dir  string
	// ConfigFile is the server configuration it starts from (users and
	// permissions; see natsauth), or empty.
	ConfigFile string
	mu         sync.Mutex
	srv        *server.Server
}

// StartNATS starts a NATS server on a free port.
func StartNATS(t testing.TB) *NATS { return StartNATSConfig(t, "") }

// StartNATSConfig starts a NATS server on a free port from the server
// configuration in file (users, permissions), as nats-server -c would.
func StartNATSConfig(t testing.TB, file string) *NATS {
	t.Helper()
	n := &NATS{Port: FreePort(t), Dir: t.TempDir(), ConfigFile: file}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// URL is the server's client URL.
func (n *NATS) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.Port) }

// Start (re)starts the server on its port and store.
func (n *NATS) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	srv, err := natsd.Start(natsd.Config{Dir: n.Dir, Port: n.Port, ConfigFile: n.ConfigFile})
	if err != nil {
		return err
	}
	n.srv = srv
	return nil
}

// Stop shuts the server down.
func (n *NATS) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// FreePort returns a TCP port nobody listens on now (localport.Free,
// failing the test when there is none).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := localport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Process is one baton process.
type Process struct {
	Name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Start runs bin with args, logging to a file the test prints on failure.
func Start(t testing.TB, name, bin string, env []string, args ...string) *Process {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.Terminate(t)
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("---- %s log ----\n%s", name, tail(b, 6000))
		}
	})
	return p
}

// Kill sends SIGKILL to the process alone, as a crash would end it.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Terminate asks the process to stop (SIGTERM) and waits up to a minute
// before killing it.
func (p *Process) Terminate(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Errorf("%s did not stop within a minute of SIGTERM; killing it", p.Name)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// Wait waits up to timeout for the process to exit by itself and returns
// how it ended; it fails the test if the process still runs.
func (p *Process) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s still runs after %s", p.Name, timeout)
		return nil
	}
}

// Log returns what the process printed so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// WaitLog waits until the process has printed a line matching re and
// returns the first submatch.
func (p *Process) WaitLog(t testing.TB, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sc := bufio.NewScanner(strings.NewReader(p.Log()))
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				if len(m) > 1 {
					return m[1]
				}
				return m[0]
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %s:\n%s", p.Name, p.err, re, tail([]byte(p.Log()), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %s within %s:\n%s", p.Name, re, timeout, tail([]byte(p.Log()), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Orchestrator is a running `baton orchestrator` and its API keys.
type Orchestrator struct {
	*Process
	URL, Token, AdminToken string
}

var (
	tokenRE      = regexp.MustCompile(`^\s*BATON_TOKEN=(\S+)`)
	adminTokenRE = regexp.MustCompile(`^\s*BATON_ADMIN_TOKEN=(\S+)`)
	// ServingLine is the line `baton orchestrator` prints once it
	// serves; its submatch is the API's URL.
	ServingLine = regexp.MustCompile(`orchestrator replica \S+ serving (http://[^\s;]+)`)
)

// StartOrchestrator runs `baton orchestrator` with its data in dataDir.
// Keys already known (token, admin) are passed on so a restarted
// orchestrator keeps them; extra flags follow the others.
func StartOrchestrator(t testing.TB, bin, natsURL, dataDir string, port int, token, admin string, extra ...string) *Orchestrator {
	t.Helper()
	args := append([]string{"orchestrator", "--nats", natsURL, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data", dataDir,
		"--postgres", "off", "--keep-alive", "10m"}, extra...)
	// One secret key per test, so that its replicas share it (a test
	// key, not a secret: each test has its own NATS and logins).
	secret := sha256.Sum256([]byte("baton test " + t.Name()))
	p := Start(t, "orchestrator", bin, []string{"BATON_TOKEN=" + token, "BATON_ADMIN_TOKEN=" + admin, "BATON_SECRET_KEY=" + hex.EncodeToString(secret[:])}, args...)
	o := &Orchestrator{Process: p, URL: p.WaitLog(t, ServingLine, time.Minute), Token: token, AdminToken: admin}
	if token == "" {
		o.Token = p.WaitLog(t, tokenRE, 10*time.Second)
		o.AdminToken = p.WaitLog(t, adminTokenRE, 10*time.Second)
	}
	return o
}

// Client is a tenant client of the orchestrator.
func (o *Orchestrator) Client() *client.Client { return &client.Client{URL: o.URL, Token: o.Token} }

// StartWorker runs `baton worker` with the runtime named; extra flags
// follow the others.
func StartWorker(t testing.TB, bin, natsURL, id, runtime, dataDir, images, subnet string, extra ...string) *Process {
	t.Helper()
	args := append([]string{"worker", "--nats", natsURL, "--id", id, "--runtime", runtime,
		"--data", dataDir, "--images", images, "--subnet", subnet, "--cpu", "2", "--memory", "4Gi"}, extra...)
	p := Start(t, "worker-"+id, bin, nil, args...)
	p.WaitLog(t, regexp.MustCompile(`worker running`), time.Minute)
	return p
}

// WaitWorkers waits until the orchestrator's /healthz counts n workers.
func WaitWorkers(ctx context.Context, t testing.TB, url string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := client.Health(ctx, url)
		if err == nil && got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("orchestrator at %s counts %d workers (%v), want %d", url, got, err, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Signal sends sig to the process alone (SIGSTOP pauses it, SIGCONT lets
// it go on).
func (p *Process) Signal(sig syscall.Signal) error {
	return p.cmd.Process.Signal(sig)
}

package natsauth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"baton.dev/baton/internal/natsd"
	"baton.dev/baton/internal/testca"
	"baton.dev/baton/natsauth"
	"baton.dev/baton/worker/protocol"
)

// bus is a NATS server started from a generated bundle, as an operator
// would run nats-server with it.
type bus struct {
	srv    *server.Server
	bundle *natsauth.Bundle
}

func startBus(t *testing.T, workers ...string) *bus {
	t.Helper()
	b, err := natsauth.Generate(t.TempDir(), workers, natsauth.Server{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsd.Start(natsd.Config{ConfigFile: b.ServerConfig, Dir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return &bus{srv: srv, bundle: b}
}

// connect connects with the credentials file given ("" for none),
// collecting the asynchronous errors (permission violations) the server
// sends.
func (b *bus) connect(t *testing.T, creds string) (*nats.Conn, <-chan error, error) {
	t.Helper()
	opts, err := natsauth.Client{Creds: creds}.Options()
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 64)
	opts = append(opts, nats.MaxReconnects(0), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	nc, err := nats.Connect(b.srv.ClientURL(), opts...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, errs, err
}

func (b *bus) mustConnect(t *testing.T, creds string) (*nats.Conn, <-chan error) {
	t.Helper()
	nc, errs, err := b.connect(t, creds)
	if err != nil {
		t.Fatalf("connect with %s: %v", filepath.Base(creds), err)
	}
	return nc, errs
}

// violation waits for the server to refuse nc's use of subject.
func violation(t *testing.T, errs <-chan error, what, subject string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
			t.Logf("%s: meanwhile: %v", what, err)
		case <-deadline:
			t.Errorf("%s: the server did not refuse %s", what, subject)
			return
		}
	}
}

// nothing checks that sub received no message.
func nothing(t *testing.T, sub *nats.Subscription, what string) {
	t.Helper()
	if m, err := sub.NextMsg(300 * time.Millisecond); err == nil {
		t.Errorf("%s: %s received %q", what, sub.Subject, m.Data)
	}
}

// TestTheBusHoldsEachRoleToItsSubjects is the control bus's attack suite:
// a client without credentials, with unknown credentials, and a worker
// acting outside its own subjects, each stopped by the server; while
// the orchestrator and the workers do what they must.
func TestTheBusHoldsEachRoleToItsSubjects(t *testing.T) {
	b := startBus(t, "w1", "w2")
	orc, _ := b.mustConnect(t, b.bundle.Orchestrator)
	w1, w1errs := b.mustConnect(t, b.bundle.Workers["w1"])
	w2, _ := b.mustConnect(t, b.bundle.Workers["w2"])

	// What the roles must be able to do.
	beats, err := orc.SubscribeSync(protocol.HeartbeatSubjects)
	if err != nil {
		t.Fatal(err)
	}
	w2cmds, err := w2.SubscribeSync(protocol.WorkerSubjects("w2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w1.Subscribe(protocol.ListSubject("w1"), func(m *nats.Msg) {
		_ = m.Respond([]byte(`{"sandboxes":[]}`))
		_ = w1.Publish(m.Reply, []byte(`a second answer`)) // not allowed: one answer per request
	}); err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*nats.Conn{orc, w1, w2} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w1.Publish(protocol.HeartbeatSubject("w1"), []byte(`{"workerId":"w1"}`)); err != nil {
		t.Fatal(err)
	}
	if m, err := beats.NextMsg(5 * time.Second); err != nil || m.Subject != protocol.HeartbeatSubject("w1") {
		t.Fatalf("the orchestrator did not get w1's own heartbeat: %v", err)
	}
	reply, err := orc.Request(protocol.ListSubject("w1"), nil, 5*time.Second)
	if err != nil || string(reply.Data) != `{"sandboxes":[]}` {
		t.Fatalf("w1 could not answer the orchestrator's request: %v", err)
	}
	violation(t, w1errs, "a second answer to one request", reply.Subject)
	js, err := jetstream.New(orc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "baton_secrets"})
	if err != nil {
		t.Fatalf("the orchestrator cannot use JetStream: %v", err)
	}
	if _, err := kv.Put(ctx, "login", []byte("sealed")); err != nil {
		t.Fatal(err)
	}

	t.Run("no credentials", func(t *testing.T) {
		if _, _, err := b.connect(t, ""); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("connect without credentials = %v, want an authorization violation", err)
		}
	})
	t.Run("credentials the server does not know", func(t *testing.T) {
		kp, _ := nkeys.CreateUser()
		seed, _ := kp.Seed()
		f := filepath.Join(t.TempDir(), "stranger.nk")
		if err := os.WriteFile(f, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.connect(t, f); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("connect with an unknown key = %v, want an authorization violation", err)
		}
	})

	forged := nats.NewInbox()
	attacks := []struct {
		name, subject string
		try           func(t *testing.T) error
		// stopped checks what must not have happened.
		stopped func(t *testing.T)
	}{
		{"a worker reads another worker's commands (tenants' inputs, registry logins)", protocol.WorkerSubjects("w2"), func(t *testing.T) error {
			spy, err := w1.SubscribeSync(protocol.WorkerSubjects("w2"))
			if err != nil {
				return err
			}
			t.Cleanup(func() { _ = spy.Unsubscribe() })
			_ = w1.Flush()
			_ = orc.Publish(protocol.CreateSubject("w2"), []byte(`{"spec":{"pullAuth":{"password":"secret"}}}`))
			_ = orc.Flush()
			if _, err := w2cmds.NextMsg(5 * time.Second); err != nil {
				t.Fatalf("w2 did not get its own command: %v", err)
			}
			nothing(t, spy, "w1 spying on w2")
			return nil
		}, nil},
		{"a worker sends commands to another worker", protocol.DeleteSubject("w2"), func(t *testing.T) error {
			return w1.Publish(protocol.DeleteSubject("w2"), []byte(`{"id":"sb-1"}`))
		}, func(t *testing.T) { nothing(t, w2cmds, "w1 commanding w2") }},
		{"a worker sends itself commands", protocol.CreateSubject("w1"), func(t *testing.T) error {
			return w1.Publish(protocol.CreateSubject("w1"), []byte(`{}`))
		}, nil},
		{"a worker beats for another worker", protocol.HeartbeatSubject("w2"), func(t *testing.T) error {
			return w1.Publish(protocol.HeartbeatSubject("w2"), []byte(`{"workerId":"w2","cpuMilli":1000000}`))
		}, func(t *testing.T) { nothing(t, beats, "w1 beating as w2") }},
		{"a worker reads the other workers' heartbeats", protocol.HeartbeatSubjects, func(t *testing.T) error {
			spy, err := w1.SubscribeSync(protocol.HeartbeatSubjects)
			if err != nil {
				return err
			}
			t.Cleanup(func() { _ = spy.Unsubscribe() })
			_ = w1.Flush()
			_ = w2.Publish(protocol.HeartbeatSubject("w2"), []byte(`{"workerId":"w2"}`))
			nothing(t, spy, "w1 reading heartbeats")
			return nil
		}, nil},
		{"a worker answers a request it was not sent", forged, func(t *testing.T) error {
			return w1.Publish(forged, []byte(`forged answer`))
		}, nil},
		{"a worker reads JetStream (definitions, sealed logins, accepted invocations)", "$JS.API.STREAM.INFO.KV_baton_secrets", func(t *testing.T) error {
			wjs, err := jetstream.New(w1)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := wjs.KeyValue(ctx, "baton_secrets"); err == nil {
				t.Error("w1 opened a JetStream bucket")
			}
			return nil
		}, nil},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			for len(w1errs) > 0 {
				<-w1errs
			}
			if err := a.try(t); err != nil {
				t.Fatal(err)
			}
			_ = w1.Flush()
			violation(t, w1errs, a.name, a.subject)
			if a.stopped != nil {
				a.stopped(t)
			}
		})
	}
}

func TestGenerateKeepsTheCredentialsGivenOut(t *testing.T) {
	dir := t.TempDir()
	first, err := natsauth.Generate(dir, []string{"w1"}, natsauth.Server{})
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := os.ReadFile(first.Workers["w1"])
	orc, _ := os.ReadFile(first.Orchestrator)
	second, err := natsauth.Generate(dir, []string{"w2", "w1"}, natsauth.Server{})
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(second.Workers["w1"]); string(again) != string(seed) {
		t.Error("w1's seed changed when w2 was added")
	}
	if again, _ := os.ReadFile(second.Orchestrator); string(again) != string(orc) {
		t.Error("the orchestrator's seed changed when w2 was added")
	}
	for _, f := range []string{second.Orchestrator, second.Workers["w1"], second.Workers["w2"]} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, st.Mode())
		}
	}
	conf, _ := os.ReadFile(second.ServerConfig)
	if strings.Contains(string(conf), strings.TrimSpace(string(seed))) {
		t.Error("the server configuration holds a seed")
	}
	if _, err := server.ProcessConfigFile(second.ServerConfig); err != nil {
		t.Errorf("nats-server would not read the configuration: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		workers []string
		srv     natsauth.Server
		want    string
	}{
		{"no workers", nil, natsauth.Server{}, "--worker"},
		{"a wildcard worker", []string{"*"}, natsauth.Server{}, "worker ID"},
		{"a dotted worker", []string{"w1.x"}, natsauth.Server{}, "worker ID"},
		{"a TLS cert without key", []string{"w1"}, natsauth.Server{TLSCert: "c.pem"}, "--tls-key"},
		{"client CA without TLS", []string{"w1"}, natsauth.Server{TLSCA: "ca.pem"}, "--tls-cert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bus")
			if _, err := natsauth.Generate(dir, tc.workers, tc.srv); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Generate = %v, want an error naming %s", err, tc.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused bundle left %s behind", dir)
			}
		})
	}
	if _, err := (natsauth.Client{Creds: "/nonexistent.nk"}).Options(); err == nil || !strings.Contains(err.Error(), "--nats-creds") {
		t.Errorf("Options with a missing file = %v", err)
	}
	f := filepath.Join(t.TempDir(), "junk")
	_ = os.WriteFile(f, []byte("hello"), 0o600)
	if _, err := (natsauth.Client{Creds: f}).Options(); err == nil || !strings.Contains(err.Error(), "NKEY") {
		t.Errorf("Options with a file of junk = %v", err)
	}
}

// TestTLS runs the bus over TLS with client certificates, as
// `baton nats-config --tls-cert --tls-key --tls-ca` configures it: a client
// with the CA, its certificate and its credentials connects; one that does
// not trust the server's CA, or has no client certificate, does not.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := testca.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := ca.Issue("nats", true)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey, err := ca.Issue("w1", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsauth.Generate(filepath.Join(dir, "bus"), []string{"w1"}, natsauth.Server{TLSCert: srvCert, TLSKey: srvKey, TLSCA: ca.File})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsd.Start(natsd.Config{ConfigFile: b.ServerConfig, Dir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	url := strings.Replace(srv.ClientURL(), "nats://", "tls://", 1)
	otherCA, err := testca.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client natsauth.Client
		ok     bool
	}{
		{"its CA, a client certificate and credentials", natsauth.Client{Creds: b.Workers["w1"], TLSCA: ca.File, TLSCert: cliCert, TLSKey: cliKey}, true},
		{"another CA", natsauth.Client{Creds: b.Workers["w1"], TLSCA: otherCA.File, TLSCert: cliCert, TLSKey: cliKey}, false},
		{"no client certificate", natsauth.Client{Creds: b.Workers["w1"], TLSCA: ca.File}, false},
		{"no credentials", natsauth.Client{TLSCA: ca.File, TLSCert: cliCert, TLSKey: cliKey}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := tc.client.Options()
			if err != nil {
				t.Fatal(err)
			}
			nc, err := nats.Connect(url, append(opts, nats.MaxReconnects(0), nats.Timeout(3*time.Second))...)
			if err == nil {
				defer nc.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("connect = %v, want success %v", err, tc.ok)
			}
		})
	}
	if _, err := nats.Connect(strings.Replace(url, "tls://", "nats://", 1), nats.MaxReconnects(0), nats.Timeout(3*time.Second)); err == nil {
		t.Error("a plain connection to the TLS server succeeded")
	}
}

// Package natsauth is who may do what on Baton's control bus: the NATS
// users of a cluster (the orchestrator, and each worker apart), the
// subjects each may publish and subscribe to, the credentials files they
// connect with, and the server configuration that enforces it all.
//
// A worker may subscribe only to its own command subjects
// (baton.worker.ID.>), publish only its own heartbeats
// (baton.heartbeat.ID) and answer only the requests it received (NATS's
// allow_responses). It cannot read another worker's commands (which carry
// tenants' inputs and registry logins), speak for another worker, send
// commands, or touch JetStream (definitions, logins, accepted async
// invocations). The orchestrator may do anything. `baton up` needs none of
// this: its embedded server takes no network connections at all.
package natsauth

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"baton.dev/baton/worker/protocol"
)

// Permissions are the subjects one user may publish and subscribe to,
// and whether it may answer requests it received.
type Permissions struct {
	Publish, Subscribe []string
	Responses          bool
}

// Orchestrator's permissions: everything (it sends the workers'
// commands, reads their heartbeats and keeps JetStream's state).
func Orchestrator() Permissions {
	return Permissions{Publish: []string{">"}, Subscribe: []string{">"}}
}

// Worker's permissions, for the worker of that ID: its own heartbeats
// out, its own commands and the leader's announcements in, answers to
// those.
func Worker(id string) Permissions {
	return Permissions{
		Publish:   []string{protocol.HeartbeatSubject(id)},
		Subscribe: []string{protocol.WorkerSubjects(id), protocol.LeaderSubject},
		Responses: true,
	}
}

// Client is how a process connects to the bus: a credentials file and,
// when the server speaks TLS, the files of its trust and identity.
type Client struct {
	// Creds is an NKEY seed file (made by `baton nats-config`), or a
	// user JWT credentials file (.creds, made by nsc). Empty connects
	// without credentials.
	Creds string
	// TLSCA is a PEM file of CAs to trust for the server, beside the
	// system's; TLSCert and TLSKey a client certificate, for servers
	// that verify clients.
	TLSCA, TLSCert, TLSKey string
}

// Options returns the nats.go options that connect as c says. The error
// names the file that could not be used.
func (c Client) Options() ([]nats.Option, error) {
	var opts []nats.Option
	if c.Creds != "" {
		o, err := credsOption(c.Creds)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	if c.TLSCA != "" {
		if _, err := os.Stat(c.TLSCA); err != nil {
			return nil, fmt.Errorf("--nats-tls-ca: %w", err)
		}
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, fmt.Errorf("--nats-tls-cert and --nats-tls-key go together: give both or neither")
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}

// credsOption reads a credentials file: a user JWT and seed (nsc's
// .creds) or an NKEY seed alone.
func credsOption(file string) (nats.Option, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--nats-creds: %w", err)
	}
	if bytes.Contains(b, []byte("BEGIN NATS USER JWT")) {
		return nats.UserCredentials(file), nil
	}
	if !hasUserSeed(b) {
		return nil, fmt.Errorf("--nats-creds %s: neither an NKEY user seed (a line starting SU, as `baton nats-config` writes) nor a user JWT credentials file", file)
	}
	o, err := nats.NkeyOptionFromSeed(file)
	if err != nil {
		return nil, fmt.Errorf("--nats-creds %s: %w", file, err)
	}
	return o, nil
}

func hasUserSeed(b []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "SU") {
			return true
		}
	}
	return false
}

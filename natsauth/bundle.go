package natsauth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nkeys"

	"baton.dev/baton/internal/localfs"
	"baton.dev/baton/worker/protocol"
)

// Bundle is what Generate writes into a directory: the server's
// configuration and one credentials file (an NKEY seed) per user, each in
// a directory of its own so that each process can be given its own alone
// (a container mounts DIR/workers/ID, not DIR):
//
//	DIR/server/nats-server.conf
//	DIR/orchestrator/nats.nk
//	DIR/workers/ID/nats.nk
type Bundle struct {
	// ServerConfig is the path of nats-server.conf.
	ServerConfig string
	// Orchestrator is the path of the orchestrator's credentials.
	Orchestrator string
	// Workers maps each worker ID to the path of its credentials.
	Workers map[string]string
}

// CredsFile is the name of a user's credentials file in its directory.
const CredsFile = "nats.nk"

// Server is what the server configuration says besides its users.
type Server struct {
	// Listen is host:port for clients (default 0.0.0.0:4222).
	Listen string
	// StoreDir is JetStream's store (default /data).
	StoreDir string
	// Monitor is host:port of the HTTP monitoring endpoint (health
	// checks); empty for none.
	Monitor string
	// TLSCert and TLSKey make the server speak TLS only; with TLSCA it
	// also demands client certificates signed by that CA.
	TLSCert, TLSKey, TLSCA string
}

// Generate writes a bundle for the orchestrator and the workers named into
// dir. Credentials files already there are kept, so running it again
// with one more worker adds that worker and keeps every credential given
// out; the server configuration is written anew (reload the server after).
// Seeds are written 0600: they are the users' secrets. The server's
// configuration holds only public keys.
func Generate(dir string, workers []string, srv Server) (*Bundle, error) {
	if len(workers) == 0 {
		return nil, errors.New("nats-config: name the workers (--worker ID, repeatable): each gets its own credentials and subjects")
	}
	for _, id := range workers {
		if err := protocol.CheckWorkerID(id); err != nil {
			return nil, fmt.Errorf("nats-config: --worker: %w", err)
		}
	}
	if (srv.TLSCert == "") != (srv.TLSKey == "") {
		return nil, errors.New("nats-config: --tls-cert and --tls-key go together")
	}
	if srv.TLSCA != "" && srv.TLSCert == "" {
		return nil, errors.New("nats-config: --tls-ca verifies clients of a TLS server: give --tls-cert and --tls-key too")
	}
	if srv.Listen == "" {
		srv.Listen = "0.0.0.0:4222"
	}
	if srv.StoreDir == "" {
		srv.StoreDir = "/data"
	}
	b := &Bundle{ServerConfig: filepath.Join(dir, "server", "nats-server.conf"), Orchestrator: filepath.Join(dir, "orchestrator", CredsFile), Workers: map[string]string{}}
	if err := os.MkdirAll(filepath.Dir(b.ServerConfig), 0o755); err != nil {
		return nil, fmt.Errorf("nats-config: %w", err)
	}
	type user struct {
		comment, pub string
		perm         Permissions
	}
	pub, err := seedFile(b.Orchestrator)
	if err != nil {
		return nil, err
	}
	users := []user{{"the orchestrator", pub, Orchestrator()}}
	workers = slices.Clone(workers)
	slices.Sort(workers)
	for _, id := range slices.Compact(workers) {
		b.Workers[id] = filepath.Join(dir, "workers", id, CredsFile)
		pub, err := seedFile(b.Workers[id])
		if err != nil {
			return nil, err
		}
		users = append(users, user{"worker " + id, pub, Worker(id)})
	}

	var c strings.Builder
	c.WriteString("# Baton's control bus, written by `baton nats-config`: each user is an NKEY\n")
	c.WriteString("# (its seed is in orchestrator/ and workers/ID/ beside this directory; this\n")
	c.WriteString("# file holds public keys only) with the subjects its role may use.\n")
	c.WriteString("# Run: nats-server -c nats-server.conf\n")
	fmt.Fprintf(&c, "listen: %s\n", quote(srv.Listen))
	if srv.Monitor != "" {
		fmt.Fprintf(&c, "http: %s\n", quote(srv.Monitor))
	}
	fmt.Fprintf(&c, "jetstream {\n  store_dir: %s\n}\n", quote(srv.StoreDir))
	if srv.TLSCert != "" {
		fmt.Fprintf(&c, "tls {\n  cert_file: %s\n  key_file: %s\n", quote(srv.TLSCert), quote(srv.TLSKey))
		if srv.TLSCA != "" {
			fmt.Fprintf(&c, "  ca_file: %s\n  verify: true\n", quote(srv.TLSCA))
		}
		c.WriteString("}\n")
	}
	c.WriteString("authorization {\n  users = [\n")
	for _, u := range users {
		fmt.Fprintf(&c, "    # %s\n    {nkey: %s, permissions: {publish: {allow: %s}, subscribe: {allow: %s}",
			u.comment, quote(u.pub), list(u.perm.Publish), list(u.perm.Subscribe))
		if u.perm.Responses {
			c.WriteString(", allow_responses: true")
		}
		c.WriteString("}}\n")
	}
	c.WriteString("  ]\n}\n")
	if err := localfs.WriteFileAtomic(b.ServerConfig, []byte(c.String()), 0o644); err != nil {
		return nil, fmt.Errorf("nats-config: %w", err)
	}
	return b, nil
}

// seedFile returns the public key of the user seed in path, making a new
// user there first when path does not exist.
func seedFile(path string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("nats-config: %w", err)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", fmt.Errorf("nats-config: make a user key: %w", err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return "", fmt.Errorf("nats-config: %w", err)
		}
		if err := localfs.WriteFileAtomic(path, append(seed, '\n'), 0o600); err != nil {
			return "", fmt.Errorf("nats-config: %w", err)
		}
		return kp.PublicKey()
	}
	if err != nil {
		return "", fmt.Errorf("nats-config: %w", err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
	if err != nil {
		return "", fmt.Errorf("nats-config: %s is not an NKEY user seed: %w", path, err)
	}
	return kp.PublicKey()
}

func quote(s string) string { return strconv.Quote(s) }

func list(subjects []string) string {
	q := make([]string, len(subjects))
	for i, s := range subjects {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Package registryserver runs a real CNCF distribution registry (Debian's
// docker-registry) for tests and benchmarks: TLS on 127.0.0.1 with a
// certificate of a CA made for it, and optionally htpasswd logins. Its
// files live in a directory the caller gives (a run directory, swept if
// the run is killed).
package registryserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/crypto/bcrypt"

	"baton.dev/baton/internal/localport"
	"baton.dev/baton/internal/testca"
)

// Binary is where make deps installs the registry.
const Binary = "/usr/bin/docker-registry"

// Server is a running registry.
type Server struct {
	// Host is host:port, the registry part of its references.
	Host string
	// CAFile is the PEM file of its CA, for registry.Hosts.CAFile.
	CAFile string
	// Username and Password log in, when the registry requires logins.
	Username, Password string

	dir  string
	cmd  *exec.Cmd
	log  *os.File
	pool *x509.CertPool
}

// Start starts a registry keeping its files in dir; with auth it requires
// the login in Username and Password.
func Start(ctx context.Context, dir string, auth bool) (*Server, error) {
	if _, err := os.Stat(Binary); err != nil {
		return nil, fmt.Errorf("the distribution registry is not installed (%w): run make deps", err)
	}
	port, err := localport.Free()
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, Host: "127.0.0.1:" + strconv.Itoa(port), CAFile: filepath.Join(dir, "ca.pem")}
	ca, err := testca.New(dir)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	s.pool = ca.Pool
	if _, _, err := ca.Issue("server", true); err != nil {
		return nil, fmt.Errorf("registry certificates: %w", err)
	}
	authCfg := ""
	if auth {
		s.Username, s.Password = "tenant-user", "s3cret-"+strconv.Itoa(port)
		hash, err := bcrypt.GenerateFromPassword([]byte(s.Password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(s.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		authCfg = fmt.Sprintf("auth:\n  htpasswd:\n    realm: baton-test\n    path: %s\n", filepath.Join(dir, "htpasswd"))
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%d
  tls:
    certificate: %s
    key: %s
%s`, filepath.Join(dir, "data"), port, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), authCfg)
	if err := os.WriteFile(s.configPath(), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	if err := s.Restart(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) configPath() string { return filepath.Join(s.dir, "config.yml") }

// LogPath is the registry's log.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "registry.log") }

// Stop ends the registry (a registry that went away); Restart brings it
// back on the same address with the same content.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	s.cmd = nil
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
}

// Restart starts the registry (again) and waits until it serves.
func (s *Server) Restart(ctx context.Context) error {
	log, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	s.log = log
	s.cmd = exec.Command(Binary, "serve", s.configPath())
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.Stop()
		return fmt.Errorf("start the registry: %w", err)
	}
	if err := s.waitServing(ctx, 15*time.Second); err != nil {
		s.Stop()
		b, _ := os.ReadFile(s.LogPath())
		return fmt.Errorf("%w; its log:\n%s", err, b)
	}
	return nil
}

// Transport trusts the registry's CA.
func (s *Server) Transport() http.RoundTripper {
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool}}
}

func (s *Server) waitServing(ctx context.Context, within time.Duration) error {
	c := &http.Client{Transport: s.Transport(), Timeout: 5 * time.Second}
	deadline := time.Now().Add(within)
	for {
		resp, err := c.Get("https://" + s.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the registry at %s does not answer: %w", s.Host, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PushArchive pushes the docker archive at archive to ref (a reference on
// this registry without the host: "acme/fn:1") and returns its digest.
func (s *Server) PushArchive(ctx context.Context, archive, ref string) (string, error) {
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", archive, err)
	}
	return s.Push(ctx, img, ref)
}

// Push pushes img to ref on this registry and returns its digest.
func (s *Server) Push(ctx context.Context, img v1.Image, ref string) (string, error) {
	tag, err := name.NewTag(s.Host + "/" + ref)
	if err != nil {
		return "", err
	}
	auth := authn.Anonymous
	if s.Username != "" {
		auth = &authn.Basic{Username: s.Username, Password: s.Password}
	}
	if err := remote.Write(tag, img, remote.WithTransport(s.Transport()), remote.WithAuth(auth), remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push %s: %w", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

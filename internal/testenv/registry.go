package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/crypto/bcrypt"

	"baton.dev/baton/internal/localport"
)

// Registry is a real CNCF distribution registry (Debian's docker-registry)
// serving TLS on 127.0.0.1 with a certificate of a CA made for the test,
// and, when it has users, htpasswd logins.
type Registry struct {
	// Host is host:port, the registry part of its references.
	Host string
	// CAFile is the PEM file of the test's CA, for registry.Hosts.CAFile.
	CAFile string
	// Username and Password log in, when the registry requires logins.
	Username, Password string

	dir  string
	cmd  *exec.Cmd
	port int
	pool *x509.CertPool
}

// RegistryBinary is where make deps installs the registry.
const RegistryBinary = "/usr/bin/docker-registry"

// StartRegistry starts a registry for the test and stops it at the end;
// with auth it requires the login in Username and Password. The test
// fails when the registry is not installed (make deps installs it).
func StartRegistry(t testing.TB, auth bool) *Registry {
	t.Helper()
	if _, err := os.Stat(RegistryBinary); err != nil {
		t.Fatalf("the distribution registry is not installed (%v): run make deps", err)
	}
	dir := RunDir(t, "reg-")
	port, err := localport.Free()
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{dir: dir, port: port, Host: "127.0.0.1:" + strconv.Itoa(port), CAFile: filepath.Join(dir, "ca.pem")}
	if err := r.makeCerts(); err != nil {
		t.Fatal(err)
	}
	authCfg := ""
	if auth {
		r.Username, r.Password = "tenant-user", "s3cret-"+strconv.Itoa(port)
		hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(r.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
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
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(RegistryBinary, "serve", cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start the registry: %v", err)
	}
	t.Cleanup(func() { r.Stop(); log.Close() })
	if err := r.waitServing(15 * time.Second); err != nil {
		b, _ := os.ReadFile(log.Name())
		t.Fatalf("%v; its log:\n%s", err, b)
	}
	return r
}

// Stop ends the registry (a registry that went away); Start brings it back
// on the same address with the same content.
func (r *Registry) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
	r.cmd = nil
}

// Restart starts the stopped registry again.
func (r *Registry) Restart(t testing.TB) {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(r.dir, "registry.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	r.cmd = exec.Command(RegistryBinary, "serve", filepath.Join(r.dir, "config.yml"))
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.waitServing(15 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func (r *Registry) client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.pool}}, Timeout: 30 * time.Second}
}

func (r *Registry) waitServing(within time.Duration) error {
	c := r.client()
	deadline := time.Now().Add(within)
	for {
		resp, err := c.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the registry at %s does not answer: %w", r.Host, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Push pushes the docker archive at archive to ref (a reference on this
// registry, without the host: "acme/fn:1") and returns its digest.
func (r *Registry) Push(t testing.TB, archive, ref string) string {
	t.Helper()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatalf("read %s: %v", archive, err)
	}
	return r.PushImage(t, img, ref)
}

// PushImage pushes img to ref on this registry and returns its digest.
func (r *Registry) PushImage(t testing.TB, img v1.Image, ref string) string {
	t.Helper()
	tag, err := name.NewTag(r.Host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	auth := authn.Anonymous
	if r.Username != "" {
		auth = &authn.Basic{Username: r.Username, Password: r.Password}
	}
	if err := remote.Write(tag, img, remote.WithTransport(r.client().Transport), remote.WithAuth(auth), remote.WithContext(context.Background())); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// makeCerts makes a CA and a server certificate for 127.0.0.1 signed by it.
func (r *Registry) makeCerts() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "baton test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	write := func(name, typ string, b []byte, mode os.FileMode) error {
		return os.WriteFile(filepath.Join(r.dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), mode)
	}
	if err := write("ca.pem", "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	if err := write("server.pem", "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	if err := write("server-key.pem", "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	r.pool = x509.NewCertPool()
	r.pool.AddCert(ca)
	return nil
}

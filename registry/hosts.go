package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/containerd/containerd/remotes"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/containerd/log"
	"github.com/sirupsen/logrus"
)

// Hosts is how this process reaches registries: the operator's choices,
// the same on the orchestrator and its workers.
type Hosts struct {
	// CAFile, when set, is a PEM file of CAs trusted for registries in
	// addition to the system's.
	CAFile string
	// Insecure lists the hosts (host or host:port) reached over plain
	// HTTP. Every other registry is reached over TLS only.
	Insecure []string
}

// Credential is one tenant's login to one registry. It is a secret: it
// has no String method that shows the password, and nothing logs it.
type Credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// String hides the password.
func (c Credential) String() string { return "credential for " + c.Username }

// Client makes the HTTP client every registry request of this process
// uses, trusting the system's CAs and CAFile's.
func (h Hosts) Client() (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if h.CAFile != "" {
		pem, err := os.ReadFile(h.CAFile)
		if err != nil {
			return nil, fmt.Errorf("registry CA: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("registry CA %s: no PEM certificate in it", h.CAFile)
		}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: tr}, nil
}

// Resolver returns containerd's resolver for one resolution or pull,
// logging in with cred at host (and nowhere else) when cred is not nil.
func (h Hosts) Resolver(client *http.Client, host string, cred *Credential) remotes.Resolver {
	creds := func(requested string) (string, string, error) {
		if cred != nil && requested == host {
			return cred.Username, cred.Password, nil
		}
		return "", "", nil
	}
	plain := func(requested string) (bool, error) { return slices.Contains(h.Insecure, requested), nil }
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithClient(client),
			docker.WithPlainHTTP(plain),
			docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthClient(client), docker.WithAuthCreds(creds))),
		),
	})
}

// Quiet gives containerd's registry code a logger that writes nothing:
// it logs every host it tries at info level through logrus, and the
// errors it returns say the same. (A context logger, not logrus's global
// one: nothing else in the process changes.)
func Quiet(ctx context.Context) context.Context {
	l := logrus.New()
	l.Out = io.Discard
	return log.WithLogger(ctx, logrus.NewEntry(l))
}

package registry

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// Pinner resolves image references to digests for the orchestrator.
type Pinner struct {
	hosts  Hosts
	client *http.Client
}

// NewPinner reaches registries as hosts says.
func NewPinner(hosts Hosts) (*Pinner, error) {
	c, err := hosts.Client()
	if err != nil {
		return nil, err
	}
	return &Pinner{hosts: hosts, client: c}, nil
}

// Pin resolves ref (a tag, or already a digest) against its registry,
// logging in with cred when it is not nil, and returns it pinned. The
// error quotes the registry's answer; it wraps errdefs.ErrNotFound when
// the repository or tag does not exist.
func (p *Pinner) Pin(ctx context.Context, ref string, cred *Credential) (Pinned, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return Pinned{}, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	host := reference.Domain(named)
	r := p.hosts.Resolver(p.client, host, cred)
	_, desc, err := r.Resolve(Quiet(ctx), named.String())
	if err != nil {
		return Pinned{}, fmt.Errorf("resolve %s at %s: %w", ref, host, explain(err))
	}
	return pin(ref, desc.Digest.String())
}

// status401 finds the status code 401 in an error's words, not the
// digits of a port or an address that contain it (127.0.0.1:40151 was
// taken for a refused login).
var status401 = regexp.MustCompile(`\b401\b`)

// explain keeps the registry's answer and adds what it means where the
// resolver's own words are terse.
func explain(err error) error {
	msg := err.Error()
	switch {
	case errdefs.IsNotFound(err):
		return fmt.Errorf("the registry has no such repository or tag: %w", err)
	case status401.MatchString(msg) || strings.Contains(strings.ToLower(msg), "unauthorized") || strings.Contains(msg, "authorization failed"):
		return fmt.Errorf("the registry refused the login (no credentials for it, or wrong ones): %w", err)
	case strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
		return fmt.Errorf("the registry's TLS certificate is not trusted (give its CA with --registry-ca): %w", err)
	}
	return err
}

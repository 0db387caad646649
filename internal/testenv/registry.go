package testenv

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"baton.dev/baton/internal/registryserver"
)

// Registry is a real distribution registry for a test (see
// registryserver): TLS with a CA made for it, logins when asked.
type Registry struct {
	*registryserver.Server
}

// StartRegistry starts a registry for the test and stops it at the end;
// with auth it requires the login in Username and Password. The test
// fails when the registry is not installed (make deps installs it).
func StartRegistry(t testing.TB, auth bool) *Registry {
	t.Helper()
	s, err := registryserver.Start(context.Background(), RunDir(t, "reg-"), auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return &Registry{s}
}

// Restart brings a stopped registry back.
func (r *Registry) Restart(t testing.TB) {
	t.Helper()
	if err := r.Server.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Push pushes the docker archive at archive to ref ("acme/fn:1") and
// returns its digest.
func (r *Registry) Push(t testing.TB, archive, ref string) string {
	t.Helper()
	d, err := r.PushArchive(context.Background(), archive, ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// PushImage pushes img to ref and returns its digest.
func (r *Registry) PushImage(t testing.TB, img v1.Image, ref string) string {
	t.Helper()
	d, err := r.Server.Push(context.Background(), img, ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

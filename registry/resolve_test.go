package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/registry"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{"alpine", "docker.io/library/alpine:latest", ""},
		{"acme/resize:1.4", "docker.io/acme/resize:1.4", ""},
		{"registry.example.com:5000/acme/resize:1.4", "registry.example.com:5000/acme/resize:1.4", ""},
		{"baton.local/fn-detect:v1", "baton.local/fn-detect:v1", ""},
		{"Acme/Resize", "", "invalid image reference"},
		{"acme/resize:", "", "invalid image reference"},
		{"acme/resize@sha256:nothex", "", "invalid image reference"},
	}
	for _, c := range cases {
		got, err := registry.Normalize(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Normalize(%q) = %q, %v; want an error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestPin resolves tags against a real registry (TLS with a test CA,
// htpasswd logins): a tag pins to the digest pushed under it, a re-push
// moves the tag but not an earlier pin, and every failure says why.
func TestPin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg := testenv.StartRegistry(t, true)
	p, err := registry.NewPinner(registry.Hosts{CAFile: reg.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	cred := &registry.Credential{Username: reg.Username, Password: reg.Password}
	img1, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	d1 := reg.PushImage(t, img1, "acme/resize:1.4")
	ref := reg.Host + "/acme/resize:1.4"

	got, err := p.Pin(ctx, ref, cred)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != d1 || got.Pinned != reg.Host+"/acme/resize@"+d1 || got.Ref != ref {
		t.Fatalf("pinned %+v, want digest %s", got, d1)
	}
	img2, _ := random.Image(512, 1)
	d2 := reg.PushImage(t, img2, "acme/resize:1.4")
	again, err := p.Pin(ctx, ref, cred)
	if err != nil || again.Digest != d2 || d2 == d1 {
		t.Fatalf("after a re-push: %+v, %v; want %s", again, err, d2)
	}
	byDigest, err := p.Pin(ctx, got.Pinned, cred)
	if err != nil || byDigest.Digest != d1 {
		t.Fatalf("pinning a digest reference: %+v, %v", byDigest, err)
	}

	failures := []struct {
		name string
		ref  string
		cred *registry.Credential
		want string
		is   error
	}{
		{"a tag that does not exist", reg.Host + "/acme/resize:9.9", cred, "no such repository or tag", errdefs.ErrNotFound},
		{"a repository that does not exist", reg.Host + "/acme/none:1", cred, "no such repository or tag", errdefs.ErrNotFound},
		{"no credentials", ref, nil, "refused the login", nil},
		{"wrong credentials", ref, &registry.Credential{Username: reg.Username, Password: "not-the-password-7f3"}, "refused the login", nil},
		{"a reference that does not parse", "acme/Resize::1", cred, "invalid image reference", nil},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			_, err := p.Pin(ctx, f.ref, f.cred)
			if err == nil || !strings.Contains(err.Error(), f.want) {
				t.Fatalf("Pin = %v, want an error containing %q", err, f.want)
			}
			if f.is != nil && !errors.Is(err, f.is) {
				t.Fatalf("Pin = %v, want it to wrap %v", err, f.is)
			}
			if f.cred != nil && strings.Contains(err.Error(), f.cred.Password) {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}

	t.Run("a CA that is not trusted", func(t *testing.T) {
		bare, _ := registry.NewPinner(registry.Hosts{})
		_, err := bare.Pin(ctx, ref, cred)
		if err == nil || !strings.Contains(err.Error(), "--registry-ca") {
			t.Fatalf("Pin = %v, want advice about the CA", err)
		}
	})
	t.Run("a registry that is down", func(t *testing.T) {
		reg.Stop()
		_, err := p.Pin(ctx, ref, cred)
		if err == nil || !strings.Contains(err.Error(), reg.Host) {
			t.Fatalf("Pin = %v, want an error naming the registry", err)
		}
		reg.Restart(t)
		if _, err := p.Pin(ctx, ref, cred); err != nil {
			t.Fatalf("after the registry came back: %v", err)
		}
	})
}

// TestExplainTakesPortsForNoStatus: a 401 in the registry's answer is a
// refused login; the digits 401 in a port (127.0.0.1:40151) are not,
// and a certificate error there still says to give the CA.
func TestExplainTakesPortsForNoStatus(t *testing.T) {
	tests := []struct {
		err  string
		want string
	}{
		{`GET https://127.0.0.1:5000/v2/: 401 Unauthorized`, "refused the login"},
		{`Get "https://127.0.0.1:40151/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`, "--registry-ca"},
		{`Get "https://10.0.4.1:4010/v2/": x509: certificate signed by unknown authority`, "--registry-ca"},
	}
	for _, tt := range tests {
		if got := registry.ExplainForTest(errors.New(tt.err)).Error(); !strings.Contains(got, tt.want) {
			t.Errorf("explain(%q) = %q, want it to say %q", tt.err, got, tt.want)
		}
	}
}

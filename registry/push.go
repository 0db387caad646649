package registry

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Push sends the image in the archive at archivePath to ref (a tag in a
// registry, like registry.example.com/acme/detect:1), logging in with
// cred when it is not nil, and returns the digest the registry now serves
// under the tag: the digest a deploy of a workflow naming ref pins it to.
//
// The archive is a docker archive (what `docker save` and `baton images
// build` write: a manifest.json beside the layers) holding one image, or an
// OCI image layout in a tar (index.json, oci-layout, blobs/; what `docker
// buildx build --output type=oci` writes) holding one image or one
// multi-platform index. The registry is reached as hosts says, over TLS
// unless its host is in hosts.Insecure. Errors name the archive or the
// registry and quote the registry's answer; none shows cred's password.
func Push(ctx context.Context, hosts Hosts, archivePath, ref string, cred *Credential) (string, error) {
	digest, err := push(ctx, hosts, archivePath, ref, cred)
	return digest, hidePassword(err, cred)
}

func push(ctx context.Context, hosts Hosts, archivePath, ref string, cred *Credential) (string, error) {
	if Local(ref) {
		return "", fmt.Errorf("push to %s: %s names the local images workers import from archives, not a registry; push to a registry's reference, like registry.example.com/acme/detect:1", ref, LocalHost)
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("push to %s: invalid image reference: %w", ref, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("push to %s: give a tag, not a digest (the registry gives the digest, and push prints it)", ref)
	}
	host := reference.Domain(named)
	var opts []name.Option
	if slices.Contains(hosts.Insecure, host) {
		opts = append(opts, name.Insecure)
	}
	tag, err := name.NewTag(named.String(), opts...)
	if err != nil {
		return "", fmt.Errorf("push to %s: invalid image reference: %w", ref, err)
	}

	img, idx, cleanup, err := readArchive(archivePath)
	defer cleanup()
	if err != nil {
		return "", err
	}

	client, err := hosts.Client()
	if err != nil {
		return "", err
	}
	auth := authn.Anonymous
	if cred != nil {
		auth = &authn.Basic{Username: cred.Username, Password: cred.Password}
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(tlsOnly{inner: client.Transport, insecure: hosts.Insecure}),
		remote.WithAuth(auth),
	}
	var digest v1.Hash
	if idx != nil {
		if digest, err = idx.Digest(); err == nil {
			err = remote.WriteIndex(tag, idx, ropts...)
		}
	} else {
		if digest, err = img.Digest(); err == nil {
			err = remote.Write(tag, img, ropts...)
		}
	}
	if err != nil {
		return "", fmt.Errorf("push %s to %s at %s: %w", archivePath, ref, host, explain(err))
	}
	return digest.String(), nil
}

// readArchive opens the image in the docker archive or OCI layout tar at
// p: an image, or an index when the layout holds a multi-platform one.
// cleanup removes what reading it unpacked.
func readArchive(p string) (img v1.Image, idx v1.ImageIndex, cleanup func(), err error) {
	cleanup = func() {}
	fail := func(format string, args ...any) (v1.Image, v1.ImageIndex, func(), error) {
		return nil, nil, cleanup, fmt.Errorf("image archive %s: "+format, append([]any{p}, args...)...)
	}
	f, err := os.Open(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the message names the file once
		}
		return fail("%w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return fail("%w", err)
	} else if st.IsDir() {
		return fail("is a directory; want a tar file (docker save, or an OCI layout in a tar)")
	}
	magic := make([]byte, 2)
	if n, _ := f.ReadAt(magic, 0); n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return fail("is gzip-compressed; decompress it first (gunzip)")
	}
	names := map[string]bool{}
	tr := tar.NewReader(f) // a file: tar skips the contents with Seek
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail("not a tar archive (want a docker archive, as docker save writes, or an OCI image layout in a tar): %w", err)
		}
		names[path.Clean(hdr.Name)] = true
	}
	switch {
	case names["manifest.json"]:
		img, err := tarball.ImageFromPath(p, nil)
		if err != nil {
			return fail("read the docker archive: %w", err)
		}
		return img, nil, cleanup, nil
	case names["index.json"]:
		dir, err := os.MkdirTemp("", "baton-push-")
		if err != nil {
			return fail("%w", err)
		}
		cleanup = func() { os.RemoveAll(dir) }
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fail("%w", err)
		}
		if err := unpackLayout(f, dir); err != nil {
			return fail("unpack the OCI layout: %w", err)
		}
		lp, err := layout.FromPath(dir)
		if err != nil {
			return fail("read the OCI layout: %w", err)
		}
		top, err := lp.ImageIndex()
		if err != nil {
			return fail("read the OCI layout's index.json: %w", err)
		}
		m, err := top.IndexManifest()
		if err != nil {
			return fail("read the OCI layout's index.json: %w", err)
		}
		if len(m.Manifests) != 1 {
			return fail("its index.json lists %d manifests; push takes an archive of one image (or of one multi-platform index)", len(m.Manifests))
		}
		d := m.Manifests[0]
		switch {
		case d.MediaType.IsImage():
			img, err := top.Image(d.Digest)
			if err != nil {
				return fail("read image %s: %w", d.Digest, err)
			}
			return img, nil, cleanup, nil
		case d.MediaType.IsIndex():
			idx, err := top.ImageIndex(d.Digest)
			if err != nil {
				return fail("read index %s: %w", d.Digest, err)
			}
			return nil, idx, cleanup, nil
		}
		return fail("its index.json names a %q, neither an image nor an index", d.MediaType)
	}
	return fail("neither a docker archive (no manifest.json) nor an OCI image layout (no index.json)")
}

// unpackLayout writes the OCI layout's files (index.json, oci-layout,
// blobs/...) from the tar r into dir, refusing any name that would land
// outside it.
func unpackLayout(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		n := path.Clean(hdr.Name)
		if n != "index.json" && n != "oci-layout" && !strings.HasPrefix(n, "blobs/") {
			continue
		}
		if !filepath.IsLocal(n) {
			return fmt.Errorf("entry %q: outside the layout", hdr.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
}

// tlsOnly refuses plain HTTP to every host the operator did not list as
// insecure. (go-containerregistry falls back to plain HTTP on its own for
// loopback and private addresses; Baton reaches a registry over plain
// HTTP only when told to, as the resolver in hosts.go does.)
type tlsOnly struct {
	inner    http.RoundTripper
	insecure []string
}

// RoundTrip implements http.RoundTripper.
func (t tlsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !slices.Contains(t.insecure, req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("plain HTTP to %s refused: it is not an insecure registry (--insecure-registry)", req.URL.Host)
	}
	return t.inner.RoundTrip(req)
}

// hidePassword makes sure err's message does not show cred's password,
// whatever an error from below put in it.
func hidePassword(err error, cred *Credential) error {
	if err == nil || cred == nil || cred.Password == "" || !strings.Contains(err.Error(), cred.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), cred.Password, "<password>"))
}

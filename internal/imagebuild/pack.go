// Package imagebuild turns static Go binaries into single-layer OCI images
// written as archives that containerd can import without a registry.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entrypoint is where Pack puts the binary inside the image.
const Entrypoint = "/fn"

// Pack writes to out a docker-archive tarball holding one image named ref:
// a single layer with binary at /fn, Entrypoint ["/fn"], env in its config,
// platform linux/amd64. The archive is written to a temporary file and
// renamed into place, so readers never see half of it.
func Pack(ctx context.Context, binary, ref string, env []string, out string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pack %s: %w", ref, err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("pack: image reference %q: %w", ref, err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return fmt.Errorf("pack %s: read binary: %w", ref, err)
	}
	layerTar, err := singleFileTar(Entrypoint[1:], bin)
	if err != nil {
		return fmt.Errorf("pack %s: %w", ref, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return fmt.Errorf("pack %s: layer: %w", ref, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("pack %s: append layer: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("pack %s: config: %w", ref, err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS = "linux"
	cfg.Architecture = "amd64"
	cfg.Config.Entrypoint = []string{Entrypoint}
	cfg.Config.Env = append([]string(nil), env...)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return fmt.Errorf("pack %s: set config: %w", ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("pack %s: %w", ref, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("pack %s: %w", ref, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := tarball.Write(tag, img, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("pack %s: write archive: %w", ref, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pack %s: write archive: %w", ref, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("pack %s: %w", ref, err)
	}
	return nil
}

// singleFileTar returns a tar stream holding one executable file. The
// timestamp is fixed so the same binary always gives the same layer.
func singleFileTar(path string, content []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Name:     path,
		Mode:     0o755,
		Size:     int64(len(content)),
		Typeflag: tar.TypeReg,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	if _, err := tw.Write(content); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	return buf.Bytes(), nil
}

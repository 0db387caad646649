package registryserver

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// UniqueImage flattens base into one layer with a file of n random bytes
// added, so that it shares no blob with any other image (and n bytes of it
// do not compress); it returns the image and its compressed layer's size.
func UniqueImage(base v1.Image, n int) (v1.Image, int64, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	fs := mutate.Extract(base)
	defer fs.Close()
	tr := tar.NewReader(fs)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("flatten the image: %w", err)
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, 0, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, 0, err
		}
	}
	nonce := make([]byte, n)
	_, _ = rand.Read(nonce)
	if err := tw.WriteHeader(&tar.Header{Name: ".baton-nonce", Mode: 0o644, Size: int64(len(nonce)), Typeflag: tar.TypeReg}); err != nil {
		return nil, 0, err
	}
	if _, err := tw.Write(nonce); err != nil {
		return nil, 0, err
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, 0, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, 0, err
	}
	bcf, err := base.ConfigFile()
	if err != nil {
		return nil, 0, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, 0, err
	}
	cf = cf.DeepCopy()
	cf.Config = bcf.Config
	cf.OS, cf.Architecture, cf.Variant = bcf.OS, bcf.Architecture, bcf.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, 0, err
	}
	size, err := layer.Size()
	return img, size, err
}

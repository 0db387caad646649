package process

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// image is an image whose filesystem is extracted and ready to run.
type image struct {
	ref     string
	rootfs  string   // the extracted filesystem
	argv    []string // entrypoint and command, paths inside rootfs
	env     []string
	workDir string // inside rootfs
}

// loadImages reads every docker-archive *.tar in dir and extracts each
// image's filesystem into rootfsDir/<digest>, once per digest.
func loadImages(dir, rootfsDir string) (map[string]image, error) {
	archives, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return nil, err
	}
	sort.Strings(archives)
	images := map[string]image{}
	for _, path := range archives {
		manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
		if err != nil {
			return nil, fmt.Errorf("read image archive %s: %w", path, err)
		}
		for _, desc := range manifest {
			for _, repoTag := range desc.RepoTags {
				tag, err := name.NewTag(repoTag)
				if err != nil {
					return nil, fmt.Errorf("image archive %s: tag %q: %w", path, repoTag, err)
				}
				img, err := tarball.ImageFromPath(path, &tag)
				if err != nil {
					return nil, fmt.Errorf("image archive %s: image %s: %w", path, repoTag, err)
				}
				loaded, err := prepare(img, repoTag, rootfsDir)
				if err != nil {
					return nil, fmt.Errorf("image archive %s: %w", path, err)
				}
				images[repoTag] = loaded
			}
		}
	}
	return images, nil
}

// prepare extracts img under rootfsDir unless it already is and reads how
// to run it.
func prepare(img v1.Image, ref, rootfsDir string) (image, error) {
	digest, err := img.Digest()
	if err != nil {
		return image{}, fmt.Errorf("image %s: digest: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return image{}, fmt.Errorf("image %s: config: %w", ref, err)
	}
	argv := append(append([]string(nil), cfg.Config.Entrypoint...), cfg.Config.Cmd...)
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		return image{}, fmt.Errorf("image %s: entrypoint %q: the process runtime needs an absolute path", ref, argv)
	}
	rootfs := filepath.Join(rootfsDir, digest.Hex)
	if _, err := os.Stat(rootfs); errors.Is(err, os.ErrNotExist) {
		if err := extract(img, rootfs); err != nil {
			return image{}, fmt.Errorf("image %s: extract: %w", ref, err)
		}
	} else if err != nil {
		return image{}, err
	}
	return image{ref: ref, rootfs: rootfs, argv: argv, env: cfg.Config.Env, workDir: cfg.Config.WorkingDir}, nil
}

// extract writes img's flattened filesystem to a temporary directory and
// renames it to dst, so a half-extracted tree is never used.
func extract(img v1.Image, dst string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".extract-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // gone after the rename
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rel := filepath.Clean(strings.TrimPrefix(hdr.Name, "/"))
		if rel == "." {
			continue
		}
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("layer entry %q leaves the filesystem root", hdr.Name)
		}
		target := filepath.Join(tmp, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			src := filepath.Clean(strings.TrimPrefix(hdr.Linkname, "/"))
			if !filepath.IsLocal(src) {
				return fmt.Errorf("layer hard link %q leaves the filesystem root", hdr.Linkname)
			}
			if err := os.Link(filepath.Join(tmp, src), target); err != nil {
				return err
			}
		default:
			// Devices, FIFOs and the like have no use in a function image.
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if _, statErr := os.Stat(dst); statErr == nil {
			return nil // another process extracted it first
		}
		return err
	}
	return nil
}

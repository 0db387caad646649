package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/imagebuild"
	"baton.dev/baton/registry"
)

// imagesPushCmd is `baton images push SRC REF`: a locally built image to a
// registry, so that a workflow can name REF.
func imagesPushCmd() *cobra.Command {
	var (
		hosts         registry.Hosts
		username      string
		passwordStdin bool
		password      string
		imagesDir     string
	)
	cmd := &cobra.Command{
		Use:   "push SRC REF",
		Short: "Push an image archive or a local sample image to a registry; prints REF@sha256:...",
		Long: `Push an image to a registry, so that a workflow can name it.

SRC is an image archive (a docker archive, as docker save and baton images
build write, or an OCI image layout in a tar) or the name of a local image
built by make images: fn-detect or baton.local/fn-detect:v1 is the archive
fn-detect.tar under --images. REF is where to push it, host[:port]/path:tag.

Push prints REF@sha256:..., the digest the registry serves under the tag: the
digest a deploy of a workflow naming REF pins it to.

A registry that wants a login takes --username and the password on standard
input (--password-stdin); the password is never a flag.`,
		Example: `  baton images push fn-detect registry.example.com/acme/detect:1 --registry-ca ca.pem
  baton images push ./detect.tar registry.example.com/acme/detect:1 -u acme --password-stdin < password.txt`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("password") {
				return errors.New("flag --password: a password on the command line shows in the process list and the shell's history; give --username and pipe the password in with --password-stdin")
			}
			var cred *registry.Credential
			switch {
			case passwordStdin && username == "":
				return errors.New("flag --password-stdin: give --username too")
			case username != "" && !passwordStdin:
				return errors.New("flag --username: give the password on standard input with --password-stdin")
			case passwordStdin:
				pw, err := readPassword(cmd.InOrStdin())
				if err != nil {
					return err
				}
				cred = &registry.Credential{Username: username, Password: pw}
			}
			archive, err := imageArchive(imagesDir, args[0])
			if err != nil {
				return err
			}
			digest, err := registry.Push(cmd.Context(), hosts, archive, args[1], cred)
			if err != nil {
				if cred == nil && strings.Contains(err.Error(), "refused the login") {
					return fmt.Errorf("%w (log in with --username and --password-stdin)", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s@%s\n", args[1], digest)
			return nil
		},
	}
	f := cmd.Flags()
	registryFlags(f, &hosts)
	f.StringVarP(&username, "username", "u", "", "user name to log in to the registry with (the password comes from --password-stdin)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the registry password from standard input")
	f.StringVar(&password, "password", "", "refused: give --password-stdin instead")
	_ = f.MarkHidden("password")
	f.StringVar(&imagesDir, "images", "build/images", "directory of the local image archives (make images builds them)")
	return cmd
}

// readPassword reads the password from r, without the line end a shell
// or an echo adds.
func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("flag --password-stdin: read standard input: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", errors.New("flag --password-stdin: standard input holds no password")
	}
	return pw, nil
}

// imageArchive finds the archive SRC names: a file, or a local image
// (fn-detect, baton.local/fn-detect:v1) built into dir as fn-detect.tar.
func imageArchive(dir, src string) (string, error) {
	if _, err := os.Stat(src); err == nil {
		return src, nil // Push says what is wrong with it, if anything
	}
	local := registry.Local(src)
	name, tag, tagged := strings.Cut(strings.TrimPrefix(src, registry.LocalHost+"/"), ":")
	if strings.ContainsAny(name, `/\`) || filepath.Ext(name) != "" || name == "" {
		if local {
			return "", fmt.Errorf("local image %s: no such local image (they are named like fn-detect)", src)
		}
		// A path (or a registry reference, which push does not take).
		return "", fmt.Errorf("image archive %s: no such file (SRC is an archive file or a local image like fn-detect)", src)
	}
	archive := filepath.Join(dir, name+".tar")
	if want := localRef(name); tagged && registry.LocalHost+"/"+name+":"+tag != want {
		return "", fmt.Errorf("local image %s: make images builds it as %s", src, want)
	}
	if _, err := os.Stat(archive); err != nil {
		msg := fmt.Sprintf("local image %s: no archive %s (make images builds them", src, archive)
		if names := localImages(dir); len(names) > 0 {
			msg += "; there: " + strings.Join(names, ", ")
		}
		return "", errors.New(msg + ")")
	}
	return archive, nil
}

// localRef is the reference imagebuild gives the local image name.
func localRef(name string) string {
	if mode, ok := strings.CutPrefix(name, "testfn-"); ok {
		return imagebuild.TestFunctionRef(mode)
	}
	if fn, ok := strings.CutPrefix(name, "fn-"); ok {
		return imagebuild.FunctionRef(fn)
	}
	return registry.LocalHost + "/" + name + ":v1"
}

// localImages lists the local image names with an archive in dir.
func localImages(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
	names := make([]string, 0, len(matches))
	for _, m := range matches {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".tar"))
	}
	slices.Sort(names)
	return names
}

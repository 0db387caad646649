package registry

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// LocalHost is the host of the images that workers import from archives
// (the samples and the tests' functions): no registry serves it.
const LocalHost = "baton.local"

// Local reports whether ref names a local image (host baton.local).
func Local(ref string) bool {
	return strings.HasPrefix(ref, LocalHost+"/")
}

// Normalize parses ref as Docker does ("alpine" is
// docker.io/library/alpine:latest) and returns its full form. The error
// says what is wrong with the reference.
func Normalize(ref string) (string, error) {
	if Local(ref) {
		if _, err := reference.ParseNormalizedNamed(ref); err != nil {
			return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
		}
		return ref, nil
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return named.String(), nil
}

// Host returns the registry host of ref (docker.io for short names).
func Host(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}

// Pinned is an image reference resolved against its registry.
type Pinned struct {
	// Ref is the reference as the workflow wrote it.
	Ref string `json:"ref"`
	// Digest is the manifest (or index) digest it resolved to: the bits
	// every worker runs until the next deploy.
	Digest string `json:"digest"`
	// Pinned is the repository at that digest, what workers pull.
	Pinned string `json:"pinned"`
}

// pin builds the pinned reference of ref at digest.
func pin(ref, digest string) (Pinned, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return Pinned{}, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return Pinned{Ref: ref, Digest: digest, Pinned: named.Name() + "@" + digest}, nil
}

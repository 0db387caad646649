// Package fnkit turns a Go function into a Baton function sandbox: an HTTP
// server on $PORT that answers POST / with the handler's output and
// GET /healthz with 200, as the "Function sandbox" contract describes.
// It uses the standard library only, so functions build as static binaries.
package fnkit

import (
	"context"
	"errors"
)

// ErrBadInput marks a handler error caused by the caller's input; Serve
// answers it with 400 instead of 500. Wrap it: fmt.Errorf("width: %w", ErrBadInput).
var ErrBadInput = errors.New("bad input")

// Handler computes a stage's output from its input (the raw request body).
type Handler func(ctx context.Context, input []byte) ([]byte, error)

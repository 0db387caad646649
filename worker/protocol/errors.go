package protocol

import (
	"errors"

	"baton.dev/baton/worker"
)

var codeOf = []struct {
	sentinel error
	code     string
}{
	{worker.ErrImageNotFound, CodeImageNotFound},
	{worker.ErrUnhealthy, CodeUnhealthy},
	{worker.ErrNotFound, CodeNotFound},
	{worker.ErrExists, CodeExists},
	{worker.ErrIdentity, CodeIdentity},
	{worker.ErrPull, CodePull},
	{worker.ErrStaleTerm, CodeStaleTerm},
}

// ToError encodes a runtime error for the wire, keeping its kind.
func ToError(err error) *Error {
	if err == nil {
		return nil
	}
	for _, c := range codeOf {
		if errors.Is(err, c.sentinel) {
			return &Error{Code: c.code, Message: err.Error()}
		}
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// Unwrap gives the worker sentinel error that matches e's code, so that
// errors.Is(err, worker.ErrImageNotFound) holds on the orchestrator's side.
func (e *Error) Unwrap() error {
	for _, c := range codeOf {
		if c.code == e.Code {
			return c.sentinel
		}
	}
	return nil
}

package standalone

import (
	"context"
	"errors"
	"sync"
)

// stopList holds the steps that undo a start, run once in reverse order
// of registration: what started last stops first.
type stopList struct {
	steps []func(context.Context) error
	once  sync.Once
	err   error
}

// onStop registers a step.
func (s *stopList) onStop(f func(context.Context) error) { s.steps = append(s.steps, f) }

// stop runs every step once, even after a failure, and returns their
// errors joined; later calls return the same result.
func (s *stopList) stop(ctx context.Context) error {
	s.once.Do(func() {
		var errs []error
		for i := len(s.steps) - 1; i >= 0; i-- {
			if err := s.steps[i](ctx); err != nil {
				errs = append(errs, err)
			}
		}
		s.err = errors.Join(errs...)
	})
	return s.err
}

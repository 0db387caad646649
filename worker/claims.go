package worker

import (
	"context"
	"fmt"
	"sync"
)

// Claims serializes operations on one sandbox ID inside a runtime: a
// Create and a Delete of the same ID never overlap. The zero value is
// ready to use.
type Claims struct {
	mu   sync.Mutex
	busy map[string]chan struct{} // closed when the operation ends
}

// Try claims id and reports whether it was free.
func (c *Claims) Try(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.busy[id]; ok {
		return false
	}
	if c.busy == nil {
		c.busy = make(map[string]chan struct{})
	}
	c.busy[id] = make(chan struct{})
	return true
}

// Wait claims id, waiting for the operation that holds it to end.
func (c *Claims) Wait(ctx context.Context, id string) error {
	for {
		if c.Try(id) {
			return nil
		}
		c.mu.Lock()
		done, ok := c.busy[id]
		c.mu.Unlock()
		if !ok {
			continue
		}
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("sandbox %s: wait for another operation on it: %w", id, ctx.Err())
		}
	}
}

// Release ends the claim on id.
func (c *Claims) Release(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if done, ok := c.busy[id]; ok {
		close(done)
		delete(c.busy, id)
	}
}

// Held reports whether an operation on id is under way.
func (c *Claims) Held(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.busy[id]
	return ok
}

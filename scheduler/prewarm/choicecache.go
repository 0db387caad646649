package prewarm

import (
	"sync"
	"time"
)

// choiceCache keeps the floors and keep-alives coldFractionChoice chose,
// for all the planners of one policy: the choice is a pure function of
// its inputs and costs a level model, and many planners ask for the same
// (the instances of a workflow share their functions' times, settings and
// loads). It is safe for concurrent use, as the planners of a simulation
// plan in parallel; a nil cache keeps nothing.
type choiceCache struct {
	mu      sync.Mutex
	choices map[choiceKey]floorKeep
	// draws are the level model's first draws (levelModelDraws), drawn
	// once for all the choices; read only.
	draws []float64
}

// choiceKey is what coldFractionChoice's choice depends on: the calls in
// flight and the allowed share (floorKeepKey), the batch, the mean
// duration and the horizon.
type choiceKey struct {
	load                  [2]int
	batch                 int
	meanDuration, horizon time.Duration
}

// newChoiceCache returns an empty cache.
func newChoiceCache() *choiceCache {
	return &choiceCache{choices: map[choiceKey]floorKeep{}, draws: levelModelDraws()}
}

// choose is coldFractionChoice's floor and keep-alive for the calls in
// flight and the allowed share that load rounds (see floorKeepKey), batch
// at a time, of mean duration meanDuration, counted up to horizon: the
// one kept, or a new one, then kept.
func (c *choiceCache) choose(load [2]int, batch int, meanDuration, horizon time.Duration) floorKeep {
	key := choiceKey{load: load, batch: batch, meanDuration: meanDuration, horizon: horizon}
	var draws []float64
	if c != nil {
		draws = c.draws
		c.mu.Lock()
		fk, ok := c.choices[key]
		c.mu.Unlock()
		if ok {
			return fk
		}
	}
	// Chosen outside the lock: two planners may both choose, the same.
	choice := coldFractionChoice(loadInFlight(load), batch, meanDuration, horizon, loadShare(load), draws)
	fk := floorKeep{floor: choice.floor, keepAlive: choice.keepAlive}
	if c != nil {
		c.mu.Lock()
		c.choices[key] = fk
		c.mu.Unlock()
	}
	return fk
}

package prewarm

import (
	"sync"
	"testing"
	"time"
)

// TestChoiceCache: a cache, shared by planners choosing at once, gives
// coldFractionChoice's choices, as does a nil one.
func TestChoiceCache(t *testing.T) {
	c := newChoiceCache()
	loads := [][2]int{floorKeepKey(0.3, 0.01), floorKeepKey(4, 0.001), floorKeepKey(40, 0.05)}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, load := range loads {
				c.choose(load, 2, 200*time.Millisecond, 2*time.Minute)
			}
		})
	}
	wg.Wait()
	for _, load := range loads {
		want := coldFractionChoice(loadInFlight(load), 2, 200*time.Millisecond, 2*time.Minute, loadShare(load), nil)
		for _, cache := range []*choiceCache{c, nil} {
			if got := cache.choose(load, 2, 200*time.Millisecond, 2*time.Minute); got != (floorKeep{floor: want.floor, keepAlive: want.keepAlive}) {
				t.Errorf("load %v, cache %v: %+v, want floor %d, keep-alive %v", load, cache != nil, got, want.floor, want.keepAlive)
			}
		}
	}
	if len(c.choices) != len(loads) {
		t.Errorf("%d choices kept, want %d", len(c.choices), len(loads))
	}
}

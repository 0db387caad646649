package tune

import (
	"context"
	"fmt"
	"slices"
	"time"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/stats"
	"baton.dev/baton/workflow"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Window is how many completed invocations one QoS window holds
	// (default 100, as the validation windows of the simulator).
	Window int
	// Misses is how many windows in a row must miss the target before the
	// workflow is tuned again (default 3): one bad window is noise, a run of
	// them is drift.
	Misses int
	// Poll is how often the invocations are read (default 5 s).
	Poll time.Duration
	// Retunes caps how many times Watch tunes again (0: no cap).
	Retunes int
	// Tune configures each re-tuning run; its Seed is advanced per run.
	Tune Options
	// Event, when set, hears of every closed window and every re-tuning.
	Event func(WatchEvent)
}

// Completed is one finished invocation as the watcher sees it.
type Completed struct {
	ID        string
	Start     time.Time
	LatencyMs float64
	Failed    bool
}

// Source lists a workflow's recent finished invocations, newest or oldest
// first (Watch orders them), so that the watcher can judge the live QoS.
type Source interface {
	Completed(ctx context.Context) ([]Completed, error)
}

// WatchEvent is what the watcher decided about one window.
type WatchEvent struct {
	// LatencyMs is the window's latency at the QoS percentile (+Inf when
	// its failures alone miss it).
	LatencyMs stats.Ms `json:"latencyMs"` // +Inf (JSON null) when failures reach the percentile
	Failed    int      `json:"failed"`
	Missed    bool     `json:"missed"`
	// InARow counts the consecutive missed windows, this one included.
	InARow int `json:"inARow"`
	// Retuned is set on the window that triggered re-tuning, with its result.
	Retuned *Result `json:"retuned,omitempty"`
}

// Judge is the watcher's decision over a read-only window: the latency at
// the target percentile and whether it misses the target, by the rules of
// package stats (nearest rank; a failure is slower than any success).
func Judge(window []Completed, t scheduler.Target) (latencyMs float64, failed int, missed bool) {
	lat := make([]float64, 0, len(window))
	for _, c := range window {
		if c.Failed {
			failed++
			continue
		}
		lat = append(lat, c.LatencyMs)
	}
	latencyMs = stats.Percentile(stats.WithFailures(lat, failed), t.Percentile)
	return latencyMs, failed, latencyMs > t.LatencyMs
}

// Watcher keeps the state between windows: the invocations already seen,
// those waiting to fill a window, and the run of missed windows. It does no
// I/O; Watch drives it.
type Watcher struct {
	target scheduler.Target
	opts   WatchOptions
	since  time.Time
	// seen holds the IDs already taken, with their start: those older
	// than the oldest listed can never be listed again and are forgotten.
	seen    map[string]time.Time
	pending []Completed
	inARow  int
}

// NewWatcher watches for target over invocations that started at or after
// since (those before ran under another configuration).
func NewWatcher(target scheduler.Target, since time.Time, opts WatchOptions) *Watcher {
	opts = opts.withDefaults()
	return &Watcher{target: target, opts: opts, since: since, seen: map[string]time.Time{}}
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Window <= 0 {
		o.Window = 100
	}
	if o.Misses <= 0 {
		o.Misses = 3
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	return o
}

// Add takes newly listed invocations (duplicates and those before the
// watch began are ignored), closes every full window in start order and
// returns its events; retune is true when the last of them made a run of
// Misses missed windows.
func (w *Watcher) Add(cs []Completed) (events []WatchEvent, retune bool) {
	fresh := make([]Completed, 0, len(cs))
	var oldest time.Time
	for _, c := range cs {
		if oldest.IsZero() || c.Start.Before(oldest) {
			oldest = c.Start
		}
		if _, ok := w.seen[c.ID]; ok || c.Start.Before(w.since) {
			continue
		}
		w.seen[c.ID] = c.Start
		fresh = append(fresh, c)
	}
	for id, start := range w.seen {
		if start.Before(oldest) {
			delete(w.seen, id)
		}
	}
	slices.SortStableFunc(fresh, func(a, b Completed) int { return a.Start.Compare(b.Start) })
	w.pending = append(w.pending, fresh...)
	for len(w.pending) >= w.opts.Window {
		window := w.pending[:w.opts.Window]
		lat, failed, missed := Judge(window, w.target)
		w.pending = w.pending[w.opts.Window:]
		if missed {
			w.inARow++
		} else {
			w.inARow = 0
		}
		events = append(events, WatchEvent{LatencyMs: stats.Ms(lat), Failed: failed, Missed: missed, InARow: w.inARow})
		if w.inARow >= w.opts.Misses {
			return events, true
		}
	}
	return events, false
}

// Restart forgets the pending window and the run of misses: the
// configuration changed at since.
func (w *Watcher) Restart(since time.Time) {
	w.since, w.pending, w.inARow = since, nil, 0
}

// Watch judges the workflow's live invocations in windows and tunes it
// again on cl when opts.Misses windows in a row miss its QoS. It returns
// when ctx ends (nil) or after opts.Retunes re-tunings.
func Watch(ctx context.Context, w *workflow.Workflow, cl Cluster, src Source, since time.Time, opts WatchOptions) error {
	target, err := scheduler.TargetOf(w)
	if err != nil {
		return err
	}
	opts = opts.withDefaults()
	watcher := NewWatcher(target, since, opts)
	tick := time.NewTicker(opts.Poll)
	defer tick.Stop()
	retunes := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cs, err := src.Completed(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch %s: %w", w.Metadata.Name, err)
		}
		events, retune := watcher.Add(cs)
		for i, ev := range events {
			if retune && i == len(events)-1 {
				retunes++
				topts := opts.Tune
				topts.Seed += uint64(retunes)
				topts.Retune = true
				topts.Why = fmt.Sprintf("re-tuned after %d windows of %d invocations in a row missed p%g <= %.0f ms", ev.InARow, opts.Window, target.Percentile, target.LatencyMs)
				res, err := Run(ctx, w, cl, topts)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("watch %s: re-tune after %d missed windows: %w", w.Metadata.Name, ev.InARow, err)
				}
				ev.Retuned = res
				watcher.Restart(time.Now())
			}
			if opts.Event != nil {
				opts.Event(ev)
			}
		}
		if retune && opts.Retunes > 0 && retunes >= opts.Retunes {
			return nil
		}
	}
}

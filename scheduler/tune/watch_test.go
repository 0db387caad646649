package tune_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/tune"
)

// window builds invocations with the given latencies (a negative latency
// is a failed invocation), starting one millisecond apart from t0.
func window(t0 time.Time, prefix string, lat ...float64) []tune.Completed {
	out := make([]tune.Completed, len(lat))
	for i, l := range lat {
		out[i] = tune.Completed{ID: fmt.Sprintf("%s%d", prefix, i), Start: t0.Add(time.Duration(i) * time.Millisecond), LatencyMs: l, Failed: l < 0}
	}
	return out
}

// repeat returns n copies of v.
func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestJudge(t *testing.T) {
	target := scheduler.Target{LatencyMs: 100, Percentile: 90}
	t0 := time.Unix(1000, 0)
	for _, tt := range []struct {
		name       string
		lat        []float64
		wantLat    float64
		wantFailed int
		wantMissed bool
	}{
		{"all fast", repeat(50, 10), 50, 0, false},
		{"one slow of ten is the 10% allowed", append(repeat(50, 9), 500), 50, 0, false},
		{"two slow of ten miss p90", append(repeat(50, 8), 500, 400), 400, 0, true},
		{"at the target meets it", repeat(100, 10), 100, 0, false},
		{"one failure is within the allowance", append(repeat(50, 9), -1), 50, 1, false},
		{"two failures miss", append(repeat(50, 8), -1, -1), math.Inf(1), 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lat, failed, missed := tune.Judge(window(t0, "i", tt.lat...), target)
			if lat != tt.wantLat || failed != tt.wantFailed || missed != tt.wantMissed {
				t.Errorf("Judge = (%g, %d, %v), want (%g, %d, %v)", lat, failed, missed, tt.wantLat, tt.wantFailed, tt.wantMissed)
			}
		})
	}
}

// TestWatcherAdd records the watcher's decisions over sequences of
// windows: only a run of Misses missed windows asks for re-tuning.
func TestWatcherAdd(t *testing.T) {
	target := scheduler.Target{LatencyMs: 100, Percentile: 90}
	good, bad := repeat(50, 10), repeat(200, 10)
	for _, tt := range []struct {
		name       string
		windows    [][]float64
		wantMissed []bool
		wantRetune bool
	}{
		{"all good", [][]float64{good, good, good, good}, []bool{false, false, false, false}, false},
		{"isolated misses reset", [][]float64{bad, bad, good, bad, bad, good}, []bool{true, true, false, true, true, false}, false},
		{"three in a row", [][]float64{good, bad, bad, bad}, []bool{false, true, true, true}, true},
		{"a partial window is not judged", [][]float64{bad, bad, bad[:9]}, []bool{true, true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			w := tune.NewWatcher(target, t0, tune.WatchOptions{Window: 10, Misses: 3})
			var missed []bool
			retune := false
			for i, lat := range tt.windows {
				evs, r := w.Add(window(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("w%d-", i), lat...))
				for _, ev := range evs {
					missed = append(missed, ev.Missed)
				}
				retune = retune || r
			}
			if fmt.Sprint(missed) != fmt.Sprint(tt.wantMissed) || retune != tt.wantRetune {
				t.Errorf("missed %v retune %v, want %v %v", missed, retune, tt.wantMissed, tt.wantRetune)
			}
		})
	}
}

// TestWatcherIgnoresSeenAndEarlierInvocations: an invocation listed again
// is counted once, and one that started before the watch (under the old
// configuration) not at all.
func TestWatcherIgnoresSeenAndEarlierInvocations(t *testing.T) {
	target := scheduler.Target{LatencyMs: 100, Percentile: 90}
	t0 := time.Unix(1000, 0)
	w := tune.NewWatcher(target, t0, tune.WatchOptions{Window: 10, Misses: 1})
	before := window(t0.Add(-time.Minute), "old", repeat(900, 20)...)
	half := window(t0, "new", repeat(200, 5)...)
	if evs, _ := w.Add(append(before, half...)); len(evs) != 0 {
		t.Fatalf("closed %d windows from 5 new invocations and 20 old ones", len(evs))
	}
	if evs, _ := w.Add(half); len(evs) != 0 {
		t.Fatalf("closed %d windows when the same 5 invocations were listed again", len(evs))
	}
	evs, retune := w.Add(window(t0.Add(time.Second), "more", repeat(200, 5)...))
	if len(evs) != 1 || !evs[0].Missed || !retune {
		t.Fatalf("events %+v retune %v, want one missed window and a re-tune", evs, retune)
	}
}

// liveSource is a fake source of live traffic for Watch: every listing
// adds a batch of invocations drawn from the fake cluster under its current
// configuration and drift.
type liveSource struct {
	mu    sync.Mutex
	fc    *fakeCluster
	next  int
	all   []tune.Completed
	batch int
}

func (s *liveSource) Completed(context.Context) ([]tune.Completed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range s.batch {
		lat, _ := s.fc.draw()
		s.all = append(s.all, tune.Completed{ID: fmt.Sprint(s.next), Start: time.Now(), LatencyMs: lat})
		s.next++
	}
	if len(s.all) > 1000 { // the API lists the latest 1,000 at most
		s.all = s.all[len(s.all)-1000:]
	}
	return s.all, nil
}

// TestWatchRetunesAfterDrift tunes ml-pipeline, then makes the workload
// 18% slower (the upper bounds still meet the QoS then): the tuned configuration now misses the QoS, the watcher sees
// a run of missed windows, tunes again, and the configuration it applies
// meets the QoS under the new workload.
func TestWatchRetunesAfterDrift(t *testing.T) {
	w, s := mlPipeline(t)
	target, _ := scheduler.TargetOf(w)
	fc := &fakeCluster{sim: s, rng: rand.New(rand.NewPCG(3, 4))}
	topts := tune.Options{Budget: 15, PerEvaluation: 40, Seed: 7}
	res, err := tune.Run(context.Background(), w, fc, topts)
	if err != nil {
		t.Fatal(err)
	}
	fc.drift = 1.18
	if got := fc.drift * s.LatencyPercentileMs(res.Best, target.Percentile); got <= target.LatencyMs {
		t.Fatalf("the drift leaves the tuned configuration within the QoS (p%g %.0f ms); the test needs it to miss", target.Percentile, got)
	}
	src := &liveSource{fc: fc, batch: 50}
	var events []tune.WatchEvent
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = tune.Watch(ctx, w, fc, src, time.Now(), tune.WatchOptions{
		Window: 100, Misses: 3, Poll: time.Millisecond, Retunes: 1, Tune: topts,
		Event: func(ev tune.WatchEvent) { events = append(events, ev) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 3 || events[len(events)-1].Retuned == nil {
		t.Fatalf("events %+v: want a re-tuning after three missed windows", events)
	}
	if last := events[len(events)-1]; last.InARow != 3 {
		t.Errorf("re-tuned after %d missed windows in a row, want 3", last.InARow)
	}
	applied := fc.applied[len(fc.applied)-1]
	if got := fc.drift * s.LatencyPercentileMs(applied, target.Percentile); got > target.LatencyMs {
		t.Errorf("after re-tuning the applied configuration's true p%g is %.0f ms under the drift, over the %.0f ms target", target.Percentile, got, target.LatencyMs)
	}
	if reason := fc.reasons[len(fc.reasons)-1]; !strings.HasPrefix(reason, "re-tuned after 3 windows of 100 invocations in a row missed p95 <= 3000 ms") {
		t.Errorf("reason recorded with the new configuration: %q", reason)
	}
	if kinds := fc.kinds; kinds[len(kinds)-1] != tune.KindRetune || kinds[len(kinds)-2] != tune.KindExplore {
		t.Errorf("the re-tuning applied kinds ... %v; want explorations, then %s last", kinds[max(0, len(kinds)-3):], tune.KindRetune)
	}
}

// TestWatchLeavesAMetQoSAlone: without drift the tuned configuration keeps
// its QoS over 30 windows and is never tuned again.
func TestWatchLeavesAMetQoSAlone(t *testing.T) {
	w, s := mlPipeline(t)
	fc := &fakeCluster{sim: s, rng: rand.New(rand.NewPCG(5, 6))}
	topts := tune.Options{Budget: 15, PerEvaluation: 40, Seed: 7}
	if _, err := tune.Run(context.Background(), w, fc, topts); err != nil {
		t.Fatal(err)
	}
	applied := len(fc.applied)
	src := &liveSource{fc: fc, batch: 100}
	windows := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := tune.Watch(ctx, w, fc, src, time.Now(), tune.WatchOptions{
		Window: 100, Misses: 3, Poll: time.Millisecond, Tune: topts,
		Event: func(ev tune.WatchEvent) {
			if windows++; windows == 30 {
				cancel()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.applied) != applied {
		t.Errorf("the watcher applied %d configurations to a workflow that meets its QoS", len(fc.applied)-applied)
	}
}

package decide

import (
	"math/rand/v2"
	"testing"
)

// churnEvent is one step of a trace of creations and deletions: a
// creation of size req, or the deletion of the sandbox the trace's
// creation number del made (nothing, if that creation was refused).
type churnEvent struct {
	create bool
	req    PlacementRequest
	del    int
}

// churnTrace draws a trace of n events in which sandboxes arrive at a
// steady rate and each lives for a random time (a birth-death process
// whose mean demand is load times the cluster's capacity), so that the
// cluster hovers around full and packing decides what is refused.
func churnTrace(rng *rand.Rand, n int, meanLive float64) []churnEvent {
	var live []int // creation numbers still alive in the trace
	events := make([]churnEvent, 0, n)
	created := 0
	for len(events) < n {
		// Arrivals at rate 1, departures at rate len(live)/meanLive.
		if len(live) == 0 || rng.Float64()*(1+float64(len(live))/meanLive) < 1 {
			events = append(events, churnEvent{create: true, req: drawRequest(rng)})
			live = append(live, created)
			created++
			continue
		}
		i := rng.IntN(len(live))
		events = append(events, churnEvent{del: live[i]})
		live[i] = live[len(live)-1]
		live = live[:len(live)-1]
	}
	return events
}

// packing is how one placement fared on a trace.
type packing struct {
	creations int
	// refused counts the creations no worker could hold; fragmented
	// those of them that the cluster's free CPU and memory, summed over
	// the workers, would have held: capacity that existed, in pieces.
	// missed counts creations refused while a worker could hold them
	// (none, for Place and PlaceSampledIndex alike).
	refused, fragmented, missed int
	// stranded is strandedShare's mean over every eighth creation made
	// while the cluster was at least 80% allocated (CPU or memory).
	stranded float64
	full     int
}

// replay runs trace on a copy of workers, placing with place.
func replay(workers []WorkerState, trace []churnEvent, place func(ws []WorkerState, req PlacementRequest, step int) (int, error)) packing {
	ws := append([]WorkerState(nil), workers...)
	type placed struct {
		on  int
		req PlacementRequest
	}
	where := map[int]placed{}
	var capCPU, capMem, usedCPU, usedMem int64
	for _, w := range ws {
		capCPU += w.CPUMilli
		capMem += w.MemoryBytes
	}
	var p packing
	created := 0
	for step, ev := range trace {
		if !ev.create {
			if pl, ok := where[ev.del]; ok {
				ws[pl.on].ReservedCPUMilli -= pl.req.CPUMilli
				ws[pl.on].ReservedMemoryBytes -= pl.req.MemoryBytes
				usedCPU -= pl.req.CPUMilli
				usedMem -= pl.req.MemoryBytes
				delete(where, ev.del)
			}
			continue
		}
		n := created
		created++
		p.creations++
		i, err := place(ws, ev.req, step)
		if err != nil {
			p.refused++
			if capCPU-usedCPU >= ev.req.CPUMilli && capMem-usedMem >= ev.req.MemoryBytes {
				p.fragmented++
			}
			if _, exhaustiveErr := PlaceIndex(ws, ev.req); exhaustiveErr == nil {
				p.missed++
			}
			continue
		}
		ws[i].ReservedCPUMilli += ev.req.CPUMilli
		ws[i].ReservedMemoryBytes += ev.req.MemoryBytes
		usedCPU += ev.req.CPUMilli
		usedMem += ev.req.MemoryBytes
		where[n] = placed{i, ev.req}
		if created%8 == 0 && max(float64(usedCPU)/float64(capCPU), float64(usedMem)/float64(capMem)) >= 0.8 {
			p.stranded += strandedShare(ws, capCPU-usedCPU, capMem-usedMem)
			p.full++
		}
	}
	if p.full > 0 {
		p.stranded /= float64(p.full)
	}
	return p
}

// TestPlaceSampledQuality replays the same traces of creations and
// deletions, around a full cluster, with the exhaustive Place and with
// PlaceSampledIndex at several sample sizes, and holds the default
// sample's packing within 2% of Place's: the share of creations refused,
// the share refused while the cluster's summed free capacity would have
// held them, and the share of free capacity stranded. The figures:
//
//	go test ./scheduler/decide -run TestPlaceSampledQuality -v
func TestPlaceSampledQuality(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		// load is the trace's mean demand over the cluster's capacity.
		load float64
	}{
		{"200 workers at 100% load", 200, 1.00},
		{"200 workers at 110% load", 200, 1.10},
		{"1000 workers at 105% load", 1000, 1.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(tt.workers)))
			workers := mixedWorkers(rng, tt.workers, 0, 0)
			for i := range workers {
				workers[i].Draining = false
			}
			var capCPU, capMem float64
			for _, w := range workers {
				capCPU += float64(w.CPUMilli)
				capMem += float64(w.MemoryBytes)
			}
			// The mix's mean sandbox, as shares of the cluster.
			var meanShare float64
			for i, r := range requestSizes {
				meanShare += requestWeights[i] * max(float64(r.CPUMilli)/capCPU, float64(r.MemoryBytes)/capMem)
			}
			trace := churnTrace(rng, 200_000, tt.load/meanShare)
			exhaustive := replay(workers, trace, func(ws []WorkerState, req PlacementRequest, _ int) (int, error) { return PlaceIndex(ws, req) })
			t.Logf("%-12s creations %d refused %.4f fragmented %.4f missed %d stranded %.4f (%d samples)", "exhaustive",
				exhaustive.creations, share(exhaustive.refused, exhaustive.creations), share(exhaustive.fragmented, exhaustive.creations), exhaustive.missed, exhaustive.stranded, exhaustive.full)
			if exhaustive.refused == 0 || exhaustive.full == 0 {
				t.Fatalf("the trace should fill the cluster: %+v", exhaustive)
			}
			for _, k := range []int{2, 4, 8, DefaultPlacementSample, 32} {
				seed := rng.Uint64()
				sampled := replay(workers, trace, func(ws []WorkerState, req PlacementRequest, step int) (int, error) {
					return PlaceSampledIndex(ws, req, k, seed+uint64(step))
				})
				t.Logf("k=%-10d creations %d refused %.4f fragmented %.4f missed %d stranded %.4f (%d samples)", k,
					sampled.creations, share(sampled.refused, sampled.creations), share(sampled.fragmented, sampled.creations), sampled.missed, sampled.stranded, sampled.full)
				if sampled.missed != 0 {
					t.Errorf("k=%d: %d creations refused while a worker had room", k, sampled.missed)
				}
				if k != DefaultPlacementSample {
					continue
				}
				if r, e := share(sampled.refused, sampled.creations), share(exhaustive.refused, exhaustive.creations); r > e*1.02 {
					t.Errorf("k=%d refuses %.4f of creations, exhaustive %.4f: more than 2%% worse", k, r, e)
				}
				if r, e := share(sampled.fragmented, sampled.creations), share(exhaustive.fragmented, exhaustive.creations); r > e*1.02 {
					t.Errorf("k=%d refuses %.4f of creations while capacity existed in pieces, exhaustive %.4f: more than 2%% worse", k, r, e)
				}
				if sampled.stranded > exhaustive.stranded*1.02 {
					t.Errorf("k=%d strands %.4f of free capacity, exhaustive %.4f: more than 2%% worse", k, sampled.stranded, exhaustive.stranded)
				}
			}
		})
	}
}

// requestWeights are drawRequest's odds of each of requestSizes.
var requestWeights = []float64{0.40, 0.25, 0.15, 0.10, 0.05, 0.05}

// strandedShare is the cluster's fragmentation: for each sandbox size of
// the mix, the share of the free capacity (mean of CPU and memory) that
// sits on workers unable to hold one of that size, weighted by the
// size's odds. 0: every free millicore and byte could serve any size.
func strandedShare(ws []WorkerState, freeCPU, freeMem int64) float64 {
	var stranded float64
	for i, r := range requestSizes {
		var cpu, mem int64
		for _, w := range ws {
			if !fits(w, r) {
				cpu += w.CPUMilli - w.ReservedCPUMilli
				mem += w.MemoryBytes - w.ReservedMemoryBytes
			}
		}
		stranded += requestWeights[i] * (float64(cpu)/float64(freeCPU) + float64(mem)/float64(freeMem)) / 2
	}
	return stranded
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

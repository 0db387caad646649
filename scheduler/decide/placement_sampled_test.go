package decide

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

const gib = int64(1 << 30)

// requestSizes are the sandbox sizes of the tests' workloads, smallest
// (and commonest) first.
var requestSizes = []PlacementRequest{
	{CPUMilli: 250, MemoryBytes: gib / 8},
	{CPUMilli: 500, MemoryBytes: gib / 2},
	{CPUMilli: 1000, MemoryBytes: gib},
	{CPUMilli: 2000, MemoryBytes: 4 * gib},
	{CPUMilli: 4000, MemoryBytes: 2 * gib},
	{CPUMilli: 1000, MemoryBytes: 8 * gib},
}

// drawRequest draws a size, the small ones the most often.
func drawRequest(rng *rand.Rand) PlacementRequest {
	switch r := rng.IntN(100); {
	case r < 40:
		return requestSizes[0]
	case r < 65:
		return requestSizes[1]
	case r < 80:
		return requestSizes[2]
	case r < 90:
		return requestSizes[3]
	case r < 95:
		return requestSizes[4]
	default:
		return requestSizes[5]
	}
}

// mixedWorkers returns n workers of three shapes (general, CPU-heavy,
// memory-heavy), some draining, a share full (fullShare: at most 250m
// and 128 MiB left) and the others reserved at random up to fill (0..1)
// of their capacity.
func mixedWorkers(rng *rand.Rand, n int, fill, fullShare float64) []WorkerState {
	shapes := []WorkerState{
		{CPUMilli: 16000, MemoryBytes: 64 * gib},
		{CPUMilli: 32000, MemoryBytes: 32 * gib},
		{CPUMilli: 8000, MemoryBytes: 64 * gib},
	}
	ws := make([]WorkerState, n)
	for i := range ws {
		w := shapes[rng.IntN(len(shapes))]
		w.ID = fmt.Sprintf("w%05d", rng.IntN(100000)) // IDs out of order, some equal
		w.ReservedCPUMilli = int64(rng.Float64() * fill * float64(w.CPUMilli))
		w.ReservedMemoryBytes = int64(rng.Float64() * fill * float64(w.MemoryBytes))
		if rng.Float64() < fullShare {
			w.ReservedCPUMilli = w.CPUMilli - rng.Int64N(251)
			w.ReservedMemoryBytes = w.MemoryBytes - rng.Int64N(gib/8+1)
		}
		w.Draining = rng.IntN(20) == 0
		ws[i] = w
	}
	return ws
}

// samplingCase is a table row of the sampled placement's tests: workers
// from mixedWorkers with fill, a sample of k; full is the least share of
// full workers (each snapshot draws one between it and 1).
type samplingCase struct {
	name    string
	workers int
	k       int
	fill    float64
	full    float64
}

// TestPlaceSampledCoveringEveryWorkerIsPlace: where the sample is at
// least the cluster, the sampled decision is the exhaustive one, on the
// same snapshots, whatever the seed.
func TestPlaceSampledCoveringEveryWorkerIsPlace(t *testing.T) {
	tests := []samplingCase{
		{"one worker", 1, 1, 0.5, 0},
		{"sample equals cluster", 16, 16, 0.7, 0},
		{"sample larger than cluster", 12, 64, 0.9, 0},
		{"nearly full cluster", 40, 40, 1, 0},
		{"empty cluster", 0, 16, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tt.workers)))
			decided, refused := 0, 0
			for snap := range 200 {
				ws := mixedWorkers(rng, tt.workers, tt.fill, tt.full+(1-tt.full)*rng.Float64())
				req := drawRequest(rng)
				want, wantErr := PlaceIndex(ws, req)
				got, err := PlaceSampledIndex(ws, req, tt.k, rng.Uint64())
				if got != want || !errors.Is(err, ErrNoCapacity) != (wantErr == nil) {
					t.Fatalf("snapshot %d: PlaceSampledIndex = %d, %v; PlaceIndex = %d, %v", snap, got, err, want, wantErr)
				}
				if err != nil {
					refused++
				} else {
					decided++
				}
			}
			if tt.workers > 1 && (decided == 0 || refused == 0) {
				t.Fatalf("%d decided, %d refused: the snapshots should exercise both", decided, refused)
			}
		})
	}
}

// TestPlaceSampledQualityBound: where the sample is smaller than the
// cluster, a sampled decision refuses exactly when the exhaustive one
// does, always picks a worker that can hold the sandbox, and picks one
// among the least allocated: the share of fitting workers less
// allocated than the one picked averages what the least of k uniform
// draws gives (about 1/(k+1) where every worker fits), and the larger k,
// the closer to Place's choice.
func TestPlaceSampledQualityBound(t *testing.T) {
	tests := []samplingCase{
		{"two choices", 1000, 2, 0.8, 0},
		{"four choices", 1000, 4, 0.8, 0},
		{"default sample", 1000, DefaultPlacementSample, 0.8, 0},
		{"default sample, nearly full", 1000, DefaultPlacementSample, 1, 0.99},
		{"default sample, small cluster", 40, DefaultPlacementSample, 0.9, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, uint64(tt.k)))
			var rankSum, expectSum float64
			decided, refused := 0, 0
			for snap := range 300 {
				ws := mixedWorkers(rng, tt.workers, tt.fill, tt.full+(1-tt.full)*rng.Float64())
				req := drawRequest(rng)
				best, bestErr := PlaceIndex(ws, req)
				for range 10 {
					got, err := PlaceSampledIndex(ws, req, tt.k, rng.Uint64())
					if (err == nil) != (bestErr == nil) {
						t.Fatalf("snapshot %d: PlaceSampledIndex err = %v; PlaceIndex err = %v: want both to refuse or neither", snap, err, bestErr)
					}
					if err != nil {
						refused++
						continue
					}
					decided++
					if !fits(ws[got], req) {
						t.Fatalf("snapshot %d: picked %+v, which cannot hold %+v", snap, ws[got], req)
					}
					if s, b := score(ws[got], req), score(ws[best], req); s < b {
						t.Fatalf("snapshot %d: picked a worker scoring %v, below Place's best %v", snap, s, b)
					}
					share, fitting := lessAllocatedShare(ws, req, got)
					rankSum += share
					expectSum += leastOfDraws(tt.k, float64(fitting)/float64(len(ws)))
				}
			}
			if decided == 0 || (tt.full > 0 && refused == 0) {
				t.Fatalf("%d decided, %d refused: the snapshots should leave room (and, nearly full, refuse some)", decided, refused)
			}
			mean, expect := rankSum/float64(decided), expectSum/float64(decided)
			bound := 1.25*expect + 0.005
			t.Logf("k=%d: %d decisions, %d refused; mean share of fitting workers less allocated than the pick %.4f (least of k uniform draws: %.4f)",
				tt.k, decided, refused, mean, expect)
			if mean > bound {
				t.Fatalf("mean share of fitting workers less allocated than the pick %.4f, want at most %.4f", mean, bound)
			}
		})
	}
}

func fits(w WorkerState, req PlacementRequest) bool {
	return !w.Draining && w.ReservedCPUMilli+req.CPUMilli <= w.CPUMilli && w.ReservedMemoryBytes+req.MemoryBytes <= w.MemoryBytes
}

func score(w WorkerState, req PlacementRequest) float64 {
	return (float64(w.ReservedCPUMilli+req.CPUMilli)/float64(w.CPUMilli) + float64(w.ReservedMemoryBytes+req.MemoryBytes)/float64(w.MemoryBytes)) / 2
}

// leastOfDraws is the expected share of the fitting workers below the
// least allocated of k uniform draws, with replacement, from workers of
// which a share f fit: m ~ Binomial(k, f) draws fit and the least of m
// is above 1/(m+1) of them on average; where none fits (m = 0) the
// fallback scan finds the least allocated of all (0).
func leastOfDraws(k int, f float64) float64 {
	if f <= 0 {
		return 0
	}
	return (1-math.Pow(1-f, float64(k+1)))/(float64(k+1)*f) - math.Pow(1-f, float64(k))
}

// lessAllocatedShare is the share of the workers that can hold req whose
// score is below workers[i]'s (0 for Place's own choice), and how many
// can hold it.
func lessAllocatedShare(ws []WorkerState, req PlacementRequest, i int) (float64, int) {
	s := score(ws[i], req)
	fitting, below := 0, 0
	for _, w := range ws {
		if fits(w, req) {
			fitting++
			if score(w, req) < s {
				below++
			}
		}
	}
	return float64(below) / float64(fitting), fitting
}

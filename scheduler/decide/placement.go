package decide

import (
	"fmt"
)

// WorkerState is the read-only view of one worker that placement decides on.
type WorkerState struct {
	ID          string
	CPUMilli    int64 // capacity
	MemoryBytes int64 // capacity
	// Reserved* sum the limits of the sandboxes placed on the worker,
	// including ones still being created.
	ReservedCPUMilli    int64
	ReservedMemoryBytes int64
	Draining            bool
}

// PlacementRequest is what one sandbox needs.
type PlacementRequest struct {
	CPUMilli    int64
	MemoryBytes int64
}

// ErrNoCapacity means no live worker can hold the sandbox.
var ErrNoCapacity = fmt.Errorf("no worker has capacity")

// DefaultPlacementSample is how many workers PlaceSampledIndex looks at
// in the orchestrator: on the churn trace of TestPlaceSampledQuality it
// refuses as few creations as the exhaustive Place (within 2%) and
// leaves as little capacity stranded, at a cost that does not grow
// with the cluster.
const DefaultPlacementSample = 16

// Place picks the least-allocated worker that can hold req: reservations
// never exceed a worker's CPU or memory capacity. (A worker's CPU capacity
// already counts the over-commit it allows: warm sandboxes use no CPU
// between calls.) The score is the mean of the CPU and memory shares
// after placing, so both spread evenly. Ties go to the lowest ID, so the
// decision is deterministic. Place is a pure function of its arguments.
func Place(workers []WorkerState, req PlacementRequest) (string, error) {
	i, err := PlaceIndex(workers, req)
	if err != nil {
		return "", err
	}
	return workers[i].ID, nil
}

// PlaceIndex is Place returning the chosen worker's index in workers. It
// looks at every worker.
func PlaceIndex(workers []WorkerState, req PlacementRequest) (int, error) {
	c := choice{best: -1}
	for i := range workers {
		c.consider(workers, i, req)
	}
	if c.best < 0 {
		return -1, noCapacity(len(workers), req)
	}
	return c.best, nil
}

// PlaceSampledIndex is PlaceIndex over a sample of k of the workers
// (power of k choices, as Sparrow places tasks): the least-allocated of
// k workers drawn uniformly, with replacement, by a generator seeded
// with seed, so that its cost does not grow with the cluster. Where k
// covers every worker it is PlaceIndex, and so is it where no sampled
// worker can hold req: it then looks at every worker, so that it refuses
// a sandbox exactly when PlaceIndex does (no creation is refused while a
// worker has room). It is a pure function of its arguments: the caller
// varies seed from one decision to the next.
func PlaceSampledIndex(workers []WorkerState, req PlacementRequest, k int, seed uint64) (int, error) {
	n := len(workers)
	if k >= n {
		return PlaceIndex(workers, req)
	}
	c := choice{best: -1}
	x := seed
	for range k {
		x += 0x9e3779b97f4a7c15 // splitmix64
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		c.consider(workers, int((z>>32)*uint64(n)>>32), req)
	}
	if c.best >= 0 {
		return c.best, nil
	}
	return PlaceIndex(workers, req)
}

// choice is the best worker considered so far: the least allocated
// after placing, ties to the lowest ID; best is -1 until one fits.
type choice struct {
	best  int
	score float64
}

// consider weighs workers[i] for req.
func (c *choice) consider(workers []WorkerState, i int, req PlacementRequest) {
	w := &workers[i]
	if w.Draining || w.MemoryBytes <= 0 || w.CPUMilli <= 0 {
		return
	}
	if w.ReservedMemoryBytes+req.MemoryBytes > w.MemoryBytes || w.ReservedCPUMilli+req.CPUMilli > w.CPUMilli {
		return
	}
	cpu := float64(w.ReservedCPUMilli+req.CPUMilli) / float64(w.CPUMilli)
	mem := float64(w.ReservedMemoryBytes+req.MemoryBytes) / float64(w.MemoryBytes)
	score := (cpu + mem) / 2
	if c.best < 0 || score < c.score || (score == c.score && w.ID < workers[c.best].ID) {
		c.best, c.score = i, score
	}
}

func noCapacity(workers int, req PlacementRequest) error {
	return fmt.Errorf("place sandbox (cpu %dm, memory %d bytes) on %d workers: %w", req.CPUMilli, req.MemoryBytes, workers, ErrNoCapacity)
}

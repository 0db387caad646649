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

// PlaceIndex is Place returning the chosen worker's index in workers.
func PlaceIndex(workers []WorkerState, req PlacementRequest) (int, error) {
	best, bestScore := -1, 0.0
	for i := range workers {
		w := &workers[i]
		if w.Draining || w.MemoryBytes <= 0 || w.CPUMilli <= 0 {
			continue
		}
		if w.ReservedMemoryBytes+req.MemoryBytes > w.MemoryBytes || w.ReservedCPUMilli+req.CPUMilli > w.CPUMilli {
			continue
		}
		cpu := float64(w.ReservedCPUMilli+req.CPUMilli) / float64(w.CPUMilli)
		mem := float64(w.ReservedMemoryBytes+req.MemoryBytes) / float64(w.MemoryBytes)
		score := (cpu + mem) / 2
		if best < 0 || score < bestScore || (score == bestScore && w.ID < workers[best].ID) {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return -1, fmt.Errorf("place sandbox (cpu %dm, memory %d bytes) on %d workers: %w", req.CPUMilli, req.MemoryBytes, len(workers), ErrNoCapacity)
	}
	return best, nil
}

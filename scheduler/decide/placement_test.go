package decide

import (
	"errors"
	"testing"
)

func TestPlace(t *testing.T) {
	const gi = int64(1 << 30)
	tests := []struct {
		name    string
		workers []WorkerState
		req     PlacementRequest
		want    string
		wantErr error
	}{
		{
			name: "least allocated wins",
			workers: []WorkerState{
				{ID: "a", CPUMilli: 4000, MemoryBytes: 8 * gi, ReservedCPUMilli: 3000, ReservedMemoryBytes: 6 * gi},
				{ID: "b", CPUMilli: 4000, MemoryBytes: 8 * gi, ReservedCPUMilli: 1000, ReservedMemoryBytes: 1 * gi},
			},
			req:  PlacementRequest{CPUMilli: 500, MemoryBytes: gi / 2},
			want: "b",
		},
		{
			name: "memory is never over-committed",
			workers: []WorkerState{
				{ID: "a", CPUMilli: 4000, MemoryBytes: 2 * gi, ReservedMemoryBytes: 2*gi - 100},
				{ID: "b", CPUMilli: 1000, MemoryBytes: 8 * gi, ReservedCPUMilli: 900, ReservedMemoryBytes: 7 * gi},
			},
			req:  PlacementRequest{CPUMilli: 100, MemoryBytes: 200},
			want: "b",
		},
		{
			name: "cpu is never over-committed past the capacity",
			workers: []WorkerState{
				{ID: "a", CPUMilli: 8000, MemoryBytes: 8 * gi, ReservedCPUMilli: 7500},
				{ID: "b", CPUMilli: 8000, MemoryBytes: 2 * gi, ReservedCPUMilli: 6000, ReservedMemoryBytes: gi},
			},
			req:  PlacementRequest{CPUMilli: 1000, MemoryBytes: gi},
			want: "b",
		},
		{
			name: "the last millicore fits",
			workers: []WorkerState{
				{ID: "a", CPUMilli: 8000, MemoryBytes: 8 * gi, ReservedCPUMilli: 7000},
			},
			req:  PlacementRequest{CPUMilli: 1000, MemoryBytes: gi},
			want: "a",
		},
		{
			name: "draining workers take nothing",
			workers: []WorkerState{
				{ID: "a", CPUMilli: 4000, MemoryBytes: 8 * gi, Draining: true},
				{ID: "b", CPUMilli: 4000, MemoryBytes: 8 * gi, ReservedCPUMilli: 3000, ReservedMemoryBytes: 7 * gi},
			},
			req:  PlacementRequest{CPUMilli: 100, MemoryBytes: 100},
			want: "b",
		},
		{
			name: "ties go to the lowest id",
			workers: []WorkerState{
				{ID: "c", CPUMilli: 1000, MemoryBytes: gi},
				{ID: "a", CPUMilli: 1000, MemoryBytes: gi},
				{ID: "b", CPUMilli: 1000, MemoryBytes: gi},
			},
			req:  PlacementRequest{CPUMilli: 100, MemoryBytes: 100},
			want: "a",
		},
		{
			name:    "no workers",
			req:     PlacementRequest{CPUMilli: 100, MemoryBytes: 100},
			wantErr: ErrNoCapacity,
		},
		{
			name:    "too big for every worker",
			workers: []WorkerState{{ID: "a", CPUMilli: 1000, MemoryBytes: gi}},
			req:     PlacementRequest{CPUMilli: 100, MemoryBytes: 2 * gi},
			wantErr: ErrNoCapacity,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Place(tt.workers, tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Place() error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Place() = %q, want %q", got, tt.want)
			}
		})
	}
}

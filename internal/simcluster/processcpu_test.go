package simcluster

import (
	"os"
	"testing"
	"time"
)

func TestParseProcessCPU(t *testing.T) {
	tests := []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "42 (baton) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1234 0 0", 3250 * time.Millisecond, false},
		{"a name with spaces and parentheses", "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0", 100 * time.Millisecond, false},
		{"no name", "42 baton S 1", 0, true},
		{"too short", "42 (baton) S 1 42 42 0 -1 0 0 0 0 0 7", 0, true},
		{"not a number", "42 (baton) S 1 42 42 0 -1 0 0 0 0 0 x 3 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcessCPU(tt.stat)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseProcessCPU = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestProcessCPUCountsThisProcess checks the reading against getrusage for
// this process: after some work both have grown, and they agree within a
// few clock ticks.
func TestProcessCPUCountsThisProcess(t *testing.T) {
	deadline := time.Now().Add(200 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	got, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := processCPU()
	if got <= 0 || got > want+50*time.Millisecond || got < want-50*time.Millisecond {
		t.Fatalf("ProcessCPU(self) = %v, getrusage says %v", got, want)
	}
}

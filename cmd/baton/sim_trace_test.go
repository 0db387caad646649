package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"baton.dev/baton/scheduler/trace"
)

func TestSimTraceCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "trace")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"a small heavy trace", []string{"--out", dir, "--functions", "30", "--hours", "2", "--head", "10", "--head-per-day", "1e5", "--busiest-per-day", "3e4", "-o", "json"}, ""},
		{"no directory", []string{"--functions", "3"}, "flag --out is required"},
		{"bad hours", []string{"--out", dir, "--hours", "0"}, "flag --hours 0"},
		{"head beyond the functions", []string{"--out", dir, "--functions", "5", "--head", "6"}, "head 6 of 5 functions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := runCommand(t, simTraceCmd(), tt.args, tt.wantErr)
			if !ok {
				return
			}
			var sum trace.WriteSummary
			if err := json.Unmarshal([]byte(out), &sum); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			s, err := trace.Open(dir, trace.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for i := range s.Len() {
				_, n := s.Function(i)
				total += int64(n)
			}
			// Two hours of a head of 1e5 calls a day: about 8,300 calls.
			if sum.Functions != 30 || s.Len() != 30 || total != sum.Invocations || total < 7000 || total > 10000 {
				t.Errorf("summary %+v; read back %d functions, %d invocations", sum, s.Len(), total)
			}
		})
	}
}

package main

import (
	"strings"
	"testing"
)

func TestSimTuneRate(t *testing.T) {
	prof := []string{"--workflow", "../../dags/wordcount.yaml", "--profile", "../../dags/profiles/wordcount.json"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		want    []string
	}{
		{"negative rate", append([]string{"--rate", "-1"}, prof...), "flag --rate -1", nil},
		{"not a number", append([]string{"--rate", "often"}, prof...), `"often" for "--rate"`, nil},
		{"infinite rate", append([]string{"--rate", "+Inf"}, prof...), "flag --rate +Inf", nil},
		{"a rate compares two-step and together", append([]string{"--rate", "10", "--policy", "random,static-max", "--seeds", "1", "--windows", "2", "--qos", "workflow"}, prof...), "",
			[]string{"pre-warmed at 10 invocations a minute", "two-step", "together", "random together, seed 1", "KEEP s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := runCommand(t, simTuneCmd(), tt.args, tt.wantErr)
			for _, w := range tt.want {
				if ok && !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

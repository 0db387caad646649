package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSimPrewarmCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, out string)
	}{
		{"json on a small synthetic trace", []string{"--trace", "synthetic", "--functions", "30", "--hours", "1", "--instances", "1", "--policy", "keepalive-10m,none", "-o", "json"}, "", func(t *testing.T, out string) {
			var rep struct {
				Results []struct {
					Policy        string  `json:"policy"`
					ColdStartRate float64 `json:"coldStartRate"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(rep.Results) != 2 || rep.Results[0].Policy != "keepalive-10m" || rep.Results[1].Policy != "none" {
				t.Errorf("results %+v", rep.Results)
			}
		}},
		{"azure 2019 fixture as a table", []string{"--trace", "../../scheduler/trace/testdata/azure2019", "--hours", "1", "--instances", "1", "--policy", "hybrid-histogram"}, "", func(t *testing.T, out string) {
			if !strings.Contains(out, "hybrid-histogram") || !strings.Contains(out, "azure-2019") {
				t.Errorf("table:\n%s", out)
			}
		}},
		{"missing trace", []string{"--policy", "all"}, "flag --trace is required", nil},
		{"unknown policy", []string{"--trace", "synthetic", "--policy", "bogus"}, `flag --policy: unknown pre-warm policy "bogus"`, nil},
		{"bad hours", []string{"--trace", "synthetic", "--hours", "0"}, "flag --hours 0", nil},
		{"bad output", []string{"--trace", "synthetic", "-o", "yaml"}, `flag -o "yaml"`, nil},
		{"no such trace", []string{"--trace", "/nonexistent/trace"}, "flag --trace", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := simPrewarmCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, out.String())
		})
	}
}

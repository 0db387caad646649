package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler/stats"
)

// TestConfigurationHistoryTable prints a configuration history as
// `baton workflows history` does: a line per change with its kind, its
// figures before and after and the resources that changed.
func TestConfigurationHistoryTable(t *testing.T) {
	ms := func(v float64) *stats.Ms { m := stats.Ms(v); return &m }
	usd := func(v float64) *float64 { return &v }
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	small, big := &api.Resources{CPUMilli: 250, MemoryBytes: 128 << 20}, &api.Resources{CPUMilli: 500, MemoryBytes: 128 << 20}
	for _, c := range []struct {
		name string
		h    api.ConfigurationHistory
		want []string
	}{
		{"history off", api.ConfigurationHistory{History: "off", Message: "history is off"}, []string{"history is off"}},
		{"a deploy and a tuning", api.ConfigurationHistory{History: "on", Percentile: 95, Changes: []api.ConfigurationChange{
			{At: at.Add(time.Hour), Kind: api.ChangeTune, Policy: "aquatope", Reason: "best safe",
				Functions: []api.FunctionChange{{Function: "f", Before: big, After: small, Changed: true}, {Function: "g", Before: small, After: small}},
				Before:    &api.ChangeWindow{Invocations: 3, PercentileMs: ms(120), ExecutionCostPerInvocation: usd(2e-6)},
				After:     &api.ChangeWindow{Invocations: 0}},
			{At: at, Kind: api.ChangeDeploy, Reason: "first deploy", Functions: []api.FunctionChange{{Function: "f", After: big, Changed: true}},
				After: &api.ChangeWindow{Invocations: 3, PercentileMs: ms(120), ExecutionCostPerInvocation: usd(2e-6)}},
		}}, []string{
			"AT  KIND  INVOCATIONS  P95(ms)",
			"tune    3 -> 0       120.0 -> -  0.00000200 -> -  f 500m/128Mi -> 250m/128Mi  aquatope: best safe",
			"deploy  - -> 3       - -> 120.0  - -> 0.00000200  f none -> 500m/128Mi        first deploy",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			if err := writeConfigurationHistory(&out, &c.h); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(strings.Fields(out.String()), " ")
			for _, w := range c.want {
				if !strings.Contains(text, strings.Join(strings.Fields(w), " ")) {
					t.Errorf("the table\n%s\nlacks %q", out.String(), w)
				}
			}
		})
	}
}

// TestWorkflowHistoryRefusesBadFlags: a bad --window or --limit is refused
// before any request, naming the flag (not the query parameter it
// becomes).
func TestWorkflowHistoryRefusesBadFlags(t *testing.T) {
	t.Setenv("BATON_URL", "http://127.0.0.1:1") // nothing listens: no request may be needed
	for _, tt := range []struct {
		args []string
		flag string
	}{
		{[]string{"--window", "fast"}, "flag --window"},
		{[]string{"--window", "0s"}, "flag --window"},
		{[]string{"--window", "720h"}, "flag --window"},
		{[]string{"--limit", "-1"}, "flag --limit"},
		{[]string{"--limit", "1001"}, "flag --limit"},
	} {
		cmd := workflowHistoryCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"wf"}, tt.args...))
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tt.flag) {
			t.Errorf("%v: error %v, want %s named", tt.args, err, tt.flag)
		}
	}
}

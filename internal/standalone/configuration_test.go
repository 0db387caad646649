package standalone_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
)

const autoYAML = `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: auto}
spec:
  qos: {latency: 2s, percentile: 95}
  functions:
    f:
      image: baton.local/testfn-ok:v1
      resources: {cpu: auto, memory: auto}
      bounds: {cpu: [250m, 2000m], memory: [64Mi, 512Mi]}
    g:
      image: baton.local/testfn-ok:v1
      resources: {cpu: 300m, memory: 64Mi}
  stages:
    - {name: a, function: f}
    - {name: b, function: g, needs: [a]}
`

// TestChosenConfiguration applies a configuration to a workflow's auto
// resources: the sandboxes get it, the report says who chose it, bad
// choices are refused naming the field, and it survives a restart.
func TestChosenConfiguration(t *testing.T) {
	ctx := context.Background()
	dataDir := shortTempDir(t)
	start := func() *standalone.Cluster {
		return startBaton(t, standalone.Config{DataDir: dataDir, Runtime: standalone.RuntimeProcess, Postgres: "off"}, slog.LevelError)
	}
	cl := start()
	ac := &client.Client{URL: cl.URL, Token: cl.Token}
	if _, err := ac.Deploy(ctx, "auto.yaml", []byte(autoYAML)); err != nil {
		t.Fatal(err)
	}
	stageCPU := func(ac *client.Client) int64 {
		res, err := ac.Invoke(ctx, "auto", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if res.CostUSD <= 0 || res.LatencyMs <= 0 {
			t.Errorf("invoke: cost %g, latency %g; want both > 0 from the headers", res.CostUSD, res.LatencyMs)
		}
		inv, err := ac.Invocation(ctx, res.InvocationID)
		if err != nil {
			t.Fatal(err)
		}
		return inv.Stages[0].CPUMilli
	}
	if got := stageCPU(ac); got != 2000 {
		t.Errorf("before any choice stage a ran at %dm, want the upper bound 2000m", got)
	}
	view, err := ac.Choose(ctx, "auto", api.Choice{
		Functions: map[string]api.Resources{"f": {CPUMilli: 500, MemoryBytes: 128 << 20}},
		Policy:    "aquatope", Reason: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if view.Chosen == nil || view.Functions[0].ChosenBy != "scheduler" || !strings.Contains(view.Functions[0].Detail, "aquatope") {
		t.Errorf("configuration after a choice: %+v", view)
	}
	if got := stageCPU(ac); got != 500 {
		t.Errorf("after the choice stage a ran at %dm, want 500m", got)
	}
	for _, bad := range []struct {
		choice api.Choice
		want   string
	}{
		{api.Choice{Functions: map[string]api.Resources{"f": {CPUMilli: 5000, MemoryBytes: 128 << 20}}}, "functions.f.cpuMilli: 5000 is outside its bounds [250, 2000]"},
		{api.Choice{Functions: map[string]api.Resources{"g": {CPUMilli: 500, MemoryBytes: 64 << 20}}}, "functions.g: its resources are fixed"},
		{api.Choice{Functions: map[string]api.Resources{"h": {CPUMilli: 500}}}, "functions.h: workflow auto has no such function"},
	} {
		_, err := ac.Choose(ctx, "auto", bad.choice)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || !strings.Contains(ce.Message, bad.want) {
			t.Errorf("choice %+v: got %v, want 400 saying %q", bad.choice, err, bad.want)
		}
	}
	if err := cl.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	cl = start()
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	ac.URL = cl.URL
	if got := stageCPU(ac); got != 500 {
		t.Errorf("after a restart stage a ran at %dm, want the chosen 500m", got)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/client"
)

// tuneLiveYAML is two stages of the test function, the first's memory
// auto.
const tuneLiveYAML = `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: tuned}
spec:
  qos: {latency: 2s, percentile: 95}
  functions:
    f:
      image: baton.local/testfn-ok:v1
      resources: {cpu: 250m, memory: auto}
      bounds: {memory: [64Mi, 256Mi]}
    g:
      image: baton.local/testfn-ok:v1
      resources: {cpu: 250m, memory: 64Mi}
  stages:
    - {name: a, function: f}
    - {name: b, function: g, needs: [a]}
`

// TestTuneRatePricesIdleLive runs `baton tune --rate` against a standalone
// Baton of process sandboxes (history off, so it is quick): the
// configuration it chooses comes with its execution and idle cost per
// invocation and its plan's violation rate, from the stages and cold
// starts the invocations' records hold, and the table prints them (not
// without --rate); --rate history says that there is no history to
// measure the rate from; and aquatope-stages tunes from the stages of the
// invocations' records.
func TestTuneRatePricesIdleLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a standalone Baton")
	}
	images := testenv.Images(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := standalone.Start(ctx, standalone.Config{
		DataDir: testenv.RunDir(t, "baton-tune-"), ImagesDir: images, Listen: "127.0.0.1:0",
		Runtime: standalone.RuntimeProcess, Postgres: "off",
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	t.Setenv("BATON_CONFIG", t.TempDir()+"/none.json")
	t.Setenv("BATON_URL", cl.URL)
	t.Setenv("BATON_TOKEN", cl.Token)
	c := &client.Client{URL: cl.URL, Token: cl.Token}
	if _, err := c.Deploy(ctx, "tuned.yaml", []byte(tuneLiveYAML)); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := tuneCmd()
		var out, errs bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errs)
		cmd.SetArgs(args)
		cmd.SetContext(ctx)
		err := cmd.Execute()
		t.Logf("baton tune %s:\n%s%s", strings.Join(args, " "), errs.String(), out.String())
		return out.String(), err
	}
	out, err := run("tuned", "-d", "{}", "--rate", "2", "--policy", "random", "--budget", "2", "--per-eval", "3", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep tuneReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	id := rep.Result.Idle
	if id == nil || id.ArrivalsPerMinute != 2 || !(id.ExecUSD > 0) || !(id.IdleUSD > 0) || !id.Feasible {
		t.Fatalf("the choice's idle cost %+v: want it priced at 2 a minute, execution and idle both > 0, and feasible", id)
	}
	if !strings.Contains(strings.Join(id.MeasuredColdStarts, ","), "f") {
		t.Errorf("cold starts measured for %v, want f's (a new configuration starts new sandboxes)", id.MeasuredColdStarts)
	}
	// The table: both parts and the plan's violation rate; without --rate,
	// as before.
	for _, tt := range []struct {
		rate     string
		wantIdle bool
	}{{"0.5", true}, {"", false}} {
		out, err := run("tuned", "-d", "{}", "--rate", tt.rate, "--policy", "random", "--budget", "1", "--per-eval", "2")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out, "execution + $") && strings.Contains(out, "idle = $") && strings.Contains(out, "expected violation rate"); got != tt.wantIdle {
			t.Errorf("--rate %q printed %q: idle priced %v, want %v", tt.rate, out, got, tt.wantIdle)
		}
	}
	if _, err := run("tuned", "--rate", "history", "--budget", "1"); err == nil || !strings.Contains(err.Error(), "flag --rate history: the orchestrator keeps no history") {
		t.Errorf("--rate history without history: error %v, want it said", err)
	}
	// aquatope-stages tunes from the stages the records hold (without
	// them every observation would be refused).
	out, err = run("tuned", "-d", "{}", "--policy", "aquatope-stages", "--budget", "3", "--per-eval", "3", "-o", "json")
	if err != nil {
		t.Fatalf("aquatope-stages: %v", err)
	}
	rep = tuneReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Result.Policy != "aquatope-stages" || rep.Result.Evaluations != 3 {
		t.Errorf("aquatope-stages: result %+v, want its 3 evaluations", rep.Result)
	}
}

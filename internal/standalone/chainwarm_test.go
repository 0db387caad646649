package standalone_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
)

// distinctChainYAML is a workflow of n stages, each with its own function
// (all the no-op testfn-ok), each needing the one before: every stage has
// its own pool, so a cold invocation waits for n cold starts unless they
// are started ahead.
func distinctChainYAML(name string, n int) string {
	var fns, stages strings.Builder
	for i := range n {
		fmt.Fprintf(&fns, "    f%d:\n      image: baton.local/testfn-ok:v1\n      resources: {cpu: 250m, memory: 64Mi}\n", i)
		if i == 0 {
			fmt.Fprintf(&stages, "    - {name: s%d, function: f%d}\n", i, i)
		} else {
			fmt.Fprintf(&stages, "    - {name: s%d, function: f%d, needs: [s%d]}\n", i, i, i-1)
		}
	}
	return fmt.Sprintf("apiVersion: baton.dev/v1\nkind: Workflow\nmetadata:\n  name: %s\nspec:\n  functions:\n%s  stages:\n%s", name, fns.String(), stages.String())
}

// metricValue reads one counter from the orchestrator's /metrics.
func metricValue(tb testing.TB, baseURL, name string) float64 {
	tb.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	tb.Fatalf("metric %s not found", name)
	return 0
}

// TestChainWarming runs a four-stage chain of distinct functions, cold, on
// containerd with the aquatope pre-warm policy: when the first stage
// starts, the three downstream stages' sandboxes are started (the
// workflow has never run, so nothing is measured and they start at once)
// and the invocation succeeds. Without chain warming (aquatope-nochain)
// none is started ahead and every stage waits for its own cold start.
// BenchmarkChainWarming measures what it saves.
func TestChainWarming(t *testing.T) {
	for _, tc := range []struct {
		policy     string
		wantWarmed float64
	}{
		{"aquatope", 3},
		{"aquatope-nochain", 0},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			ctx := context.Background()
			cl := startBaton(t, standalone.Config{
				Runtime: standalone.RuntimeContainerd, Subnet: "10.170.0.0/16", Prewarm: tc.policy,
			}, slog.LevelWarn)
			t.Cleanup(func() {
				if err := cl.Stop(context.Background()); err != nil {
					t.Errorf("stop: %v", err)
				}
			})
			api := &client.Client{URL: cl.URL, Token: cl.Token}
			if _, err := api.Deploy(ctx, "chain.yaml", []byte(distinctChainYAML("chain", 4))); err != nil {
				t.Fatal(err)
			}
			res, err := api.Invoke(ctx, "chain", []byte(`{"n": 1}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(res.Output)); got != `{"n": 1}` && got != `{"n":1}` {
				t.Errorf("output %s", got)
			}
			if got := metricValue(t, cl.URL, "baton_chain_warmed_sandboxes_total"); got != tc.wantWarmed {
				t.Errorf("chain warmed %g sandboxes, want %g", got, tc.wantWarmed)
			}
			if tc.wantWarmed == 0 && res.ColdStarts != 4 {
				t.Errorf("without chain warming %d of 4 stages waited for a cold start, want all", res.ColdStarts)
			}
		})
	}
}

// BenchmarkChainWarming measures, on containerd, the end-to-end latency of
// invocations that arrive to a cold workflow (a four-stage chain of
// distinct no-op functions, deployed afresh for every invocation), with
// chain warming and without, on two clusters driven alternately:
//
//	go test -run '^$' -bench ChainWarming -benchtime 20x ./internal/standalone/
//
// It reports the p50 and p99 of both and their ratios (chain / no chain).
func BenchmarkChainWarming(b *testing.B) {
	ctx := context.Background()
	type side struct {
		api *client.Client
		lat []float64
	}
	var sides []*side
	for i, policy := range []string{"aquatope", "aquatope-nochain"} {
		cl := startBaton(b, standalone.Config{
			Runtime: standalone.RuntimeContainerd, Subnet: fmt.Sprintf("10.%d.0.0/16", 168+i), Prewarm: policy,
			KeepAlive: 5 * time.Second,
		}, slog.LevelWarn)
		b.Cleanup(func() {
			if err := cl.Stop(context.Background()); err != nil {
				b.Errorf("stop: %v", err)
			}
		})
		sides = append(sides, &side{api: &client.Client{URL: cl.URL, Token: cl.Token}})
	}
	b.ResetTimer()
	for i := range b.N {
		for _, s := range sides {
			name := fmt.Sprintf("cold-%d", i)
			if _, err := s.api.Deploy(ctx, name+".yaml", []byte(distinctChainYAML(name, 4))); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := s.api.Invoke(ctx, name, []byte(`{"n": 1}`)); err != nil {
				b.Fatal(err)
			}
			s.lat = append(s.lat, ms(time.Since(start)))
			if err := s.api.DeleteWorkflow(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	pct := func(xs []float64, p float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[min(len(s)-1, int(p/100*float64(len(s))))]
	}
	chain, none := sides[0].lat, sides[1].lat
	b.ReportMetric(pct(chain, 50), "chain-p50-ms")
	b.ReportMetric(pct(none, 50), "nochain-p50-ms")
	b.ReportMetric(pct(chain, 99), "chain-p99-ms")
	b.ReportMetric(pct(none, 99), "nochain-p99-ms")
	b.ReportMetric(pct(chain, 50)/pct(none, 50), "p50-ratio")
	b.ReportMetric(pct(chain, 99)/pct(none, 99), "p99-ratio")
}

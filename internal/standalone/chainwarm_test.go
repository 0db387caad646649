package standalone_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/scheduler/stats"
)

// distinctChainYAML is a workflow of n stages, each with its own function
// (all the no-op testfn-ok), each needing the one before: every stage has
// its own pool, so a cold invocation waits for n cold starts unless they
// are started ahead.
//
// Each function answers after delay (0: at once); rev goes into every
// function's environment, so a new rev retires every sandbox.
func distinctChainYAML(name string, n int, delay time.Duration, rev int) string {
	var fns, stages strings.Builder
	for i := range n {
		fmt.Fprintf(&fns, "    f%d:\n      image: baton.local/testfn-ok:v1\n      resources: {cpu: 250m, memory: 64Mi}\n      env: {BATON_TESTFN_DELAY: %s, REV: \"%d\"}\n", i, delay, rev)
		if i == 0 {
			fmt.Fprintf(&stages, "    - {name: s%d, function: f%d}\n", i, i)
		} else {
			fmt.Fprintf(&stages, "    - {name: s%d, function: f%d, needs: [s%d]}\n", i, i, i-1)
		}
	}
	return fmt.Sprintf("apiVersion: baton.dev/v1\nkind: Workflow\nmetadata:\n  name: %s\nspec:\n  functions:\n%s  stages:\n%s", name, fns.String(), stages.String())
}

// metricValue reads one counter from the orchestrator's /metrics, with
// the admin key (the operator's surface).
func metricValue(tb testing.TB, baseURL, adminToken, name string) float64 {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %s", resp.Status)
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
		policy string
		// wantWarmed after one invocation, and in all after two more
		// arriving together to another cold workflow: each claims its own.
		wantWarmed, wantWarmedBurst float64
	}{
		{"aquatope", 3, 3 + 6},
		{"aquatope-nochain", 0, 0},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			ctx := context.Background()
			cl := startBaton(t, standalone.Config{
				Runtime: standalone.RuntimeContainerd, Subnet: "10.170.0.0/16", Orchestration: standalone.Orchestration{Prewarm: tc.policy},
			}, slog.LevelWarn)
			t.Cleanup(func() {
				if err := cl.Stop(context.Background()); err != nil {
					t.Errorf("stop: %v", err)
				}
			})
			api := &client.Client{URL: cl.URL, Token: cl.Token}
			if _, err := api.Deploy(ctx, "chain.yaml", []byte(distinctChainYAML("chain", 4, 0, 0))); err != nil {
				t.Fatal(err)
			}
			res, err := api.Invoke(ctx, "chain", []byte(`{"n": 1}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(res.Output)); got != `{"n": 1}` && got != `{"n":1}` {
				t.Errorf("output %s", got)
			}
			if got := metricValue(t, cl.URL, cl.AdminToken, "baton_chain_warmed_sandboxes_total"); got != tc.wantWarmed {
				t.Errorf("chain warmed %g sandboxes, want %g", got, tc.wantWarmed)
			}
			if tc.wantWarmed == 0 && res.ColdStarts != 4 {
				t.Errorf("without chain warming %d of 4 stages waited for a cold start, want all", res.ColdStarts)
			}
			// Two invocations arrive together to a second workflow that
			// has never run either: both find its first stage cold, and
			// with nothing measured, each starts its three downstream
			// sandboxes at once. (A new revision of the first workflow
			// would keep its measured times, and its chain warms would be
			// due later, each skipped if its stage had found a sandbox by
			// then: a count that depends on timing.)
			if _, err := api.Deploy(ctx, "burst.yaml", []byte(distinctChainYAML("burst", 4, 0, 0))); err != nil {
				t.Fatal(err)
			}
			errs := make(chan error, 2)
			for range 2 {
				go func() {
					_, err := api.Invoke(ctx, "burst", []byte(`{"n": 2}`))
					errs <- err
				}()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if got := metricValue(t, cl.URL, cl.AdminToken, "baton_chain_warmed_sandboxes_total"); got != tc.wantWarmedBurst {
				t.Errorf("after a burst of two, chain warmed %g sandboxes in all, want %g", got, tc.wantWarmedBurst)
			}
		})
	}
}

// BenchmarkChainWarming measures, on containerd, the end-to-end latency of
// invocations that arrive to a cold workflow, with chain warming and
// without, on two clusters driven alternately:
//
//	go test -run '^$' -bench ChainWarming -benchtime 20x ./internal/standalone/
//
// The workflow is a four-stage chain of distinct functions that answer at
// once (noop) or after 300 ms (io-300ms: a function waiting on I/O). It runs
// twice to measure its cold starts and execution times; before every
// measured invocation the benchmark waits until every sandbox has gone
// after the 2 s keep-alive, so the invocation finds the workflow cold, with
// its times known. The planning interval is an hour, so the pre-warm floors
// stay at zero and only chain warming differs. It reports the p50 and p99
// of both and their ratios (chain / no chain).
func BenchmarkChainWarming(b *testing.B) {
	ctx := context.Background()
	var apis []*client.Client
	var admins []string
	for i, policy := range []string{"aquatope", "aquatope-nochain"} {
		cl := startBaton(b, standalone.Config{
			Runtime: standalone.RuntimeContainerd, Subnet: fmt.Sprintf("10.%d.0.0/16", 168+i),
			Orchestration: standalone.Orchestration{
				Prewarm: policy, PrewarmInterval: time.Hour, KeepAlive: 2 * time.Second, PrewarmKeepAlive: 2 * time.Second, AutoscaleTick: 250 * time.Millisecond,
			},
		}, slog.LevelWarn)
		b.Cleanup(func() {
			if err := cl.Stop(context.Background()); err != nil {
				b.Errorf("stop: %v", err)
			}
		})
		apis = append(apis, &client.Client{URL: cl.URL, Token: cl.Token})
		admins = append(admins, cl.AdminToken)
	}
	input := []byte(`{"n": 1}`)
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{{"noop", 0}, {"io-300ms", 300 * time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) {
			name := "cold-" + tc.name
			for _, api := range apis {
				if _, err := api.Deploy(ctx, name+".yaml", []byte(distinctChainYAML(name, 4, tc.delay, 0))); err != nil {
					b.Fatal(err)
				}
				for range 2 {
					if _, err := api.Invoke(ctx, name, input); err != nil {
						b.Fatal(err)
					}
				}
			}
			lat := make([][]float64, len(apis))
			for range b.N {
				for k, api := range apis {
					waitCold(b, api.URL, admins[k])
					start := time.Now()
					res, err := api.Invoke(ctx, name, input)
					if err != nil {
						b.Fatal(err)
					}
					lat[k] = append(lat[k], ms(time.Since(start)))
					if res.ColdStarts == 0 {
						b.Fatalf("invocation %s found the workflow warm", res.InvocationID)
					}
				}
			}
			b.StopTimer()
			for _, api := range apis {
				if err := api.DeleteWorkflow(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
			pct := stats.Percentile
			chain, none := lat[0], lat[1]
			b.ReportMetric(pct(chain, 50), "chain-p50-ms")
			b.ReportMetric(pct(none, 50), "nochain-p50-ms")
			b.ReportMetric(pct(chain, 99), "chain-p99-ms")
			b.ReportMetric(pct(none, 99), "nochain-p99-ms")
			b.ReportMetric(pct(chain, 50)/pct(none, 50), "p50-ratio")
			b.ReportMetric(pct(chain, 99)/pct(none, 99), "p99-ratio")
		})
	}
}

// waitCold waits until the orchestrator has no sandbox left.
func waitCold(tb testing.TB, baseURL, adminToken string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var n float64
		for _, state := range []string{"idle", "busy", "creating"} {
			n += metricValue(tb, baseURL, adminToken, `baton_sandboxes{state="`+state+`"}`)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%g sandboxes still up after a minute", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStartRefusesBadPrewarm: a bad pre-warm setting is refused, naming
// the flag, before anything starts.
func TestStartRefusesBadPrewarm(t *testing.T) {
	for _, tt := range []struct {
		o       standalone.Orchestration
		wantErr string
	}{
		{standalone.Orchestration{Prewarm: "bogus"}, `--prewarm: unknown pre-warm policy "bogus"`},
		{standalone.Orchestration{Prewarm: "oracle"}, "--prewarm oracle: pre-warm policy oracle knows the future"},
		{standalone.Orchestration{Prewarm: "aquatope", PrewarmInterval: -time.Second}, "--prewarm-interval -1s"},
	} {
		dir := t.TempDir()
		_, err := standalone.Start(context.Background(), standalone.Config{DataDir: dir, Runtime: standalone.RuntimeProcess, Orchestration: tt.o})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: error %v, want %q", tt.o, err, tt.wantErr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%+v: %d entries made in the data directory before the refusal", tt.o, len(entries))
		}
	}
}

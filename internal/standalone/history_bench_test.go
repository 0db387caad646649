package standalone_test

import (
	"context"
	"flag"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/scheduler/stats"
)

// historyRate is the paced load of BenchmarkHistoryOverhead/paced.
var historyRate = flag.Float64("history-rate", 200, "invocations per second of BenchmarkHistoryOverhead/paced")

// BenchmarkHistoryOverhead runs two clusters side by side, one writing
// history to Postgres and one without, and drives both with the same load
// in alternating rounds (so drift on a noisy machine hits both alike). It
// reports the p50 and p99 invocation latency of each and the ratio on/off
// of the p99, under two loads:
//
//   - paced: a steady open-loop load of -history-rate invocations/s (200),
//     each invocation sent on schedule whether or not earlier ones ended;
//   - saturated: 4 clients back to back, which keeps both cores busy, so
//     the history writer's and Postgres's CPU shows up as latency.
//
// The sandboxes are local processes: the figure is the orchestrator's
// overhead, which the runtime does not change.
//
//	go test -run '^$' -bench HistoryOverhead -benchtime 6000x ./internal/standalone/
func BenchmarkHistoryOverhead(b *testing.B) {
	ctx := context.Background()
	start := func(postgres string) *client.Client {
		cl := startBaton(b, standalone.Config{
			Runtime: standalone.RuntimeProcess, Postgres: postgres, Orchestration: standalone.Orchestration{KeepAlive: time.Hour},
		}, slog.LevelWarn)
		b.Cleanup(func() { _ = cl.Stop(context.Background()) })
		api := &client.Client{URL: cl.URL, Token: cl.Token}
		if _, err := api.Deploy(ctx, "chain.yaml", []byte(wfYAML("chain", "testfn-ok",
			"- {name: a, function: f}\n    - {name: b, function: f, needs: [a]}\n    - {name: c, function: f, needs: [b]}"))); err != nil {
			b.Fatal(err)
		}
		for range 20 { // warm: sandboxes for the load's concurrency
			if _, err := api.Invoke(ctx, "chain", []byte(`{}`)); err != nil {
				b.Fatal(err)
			}
		}
		return api
	}
	on, off := start("auto"), start("off")

	const concurrency, round = 4, 200
	paced := func(b *testing.B, api *client.Client, n int) []time.Duration {
		out := make([]time.Duration, n)
		var wg sync.WaitGroup
		every := time.Duration(float64(time.Second) / *historyRate)
		start := time.Now()
		for i := range n {
			time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				if _, err := api.Invoke(ctx, "chain", []byte(`{"payload":"steady load"}`)); err != nil {
					b.Error(err)
				}
				out[i] = time.Since(t0)
			}()
		}
		wg.Wait()
		return out
	}
	saturated := func(b *testing.B, api *client.Client, n int) []time.Duration {
		var mu sync.Mutex
		var out []time.Duration
		var wg sync.WaitGroup
		work := make(chan struct{}, n)
		for range n {
			work <- struct{}{}
		}
		close(work)
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					t0 := time.Now()
					if _, err := api.Invoke(ctx, "chain", []byte(`{"payload":"steady load"}`)); err != nil {
						b.Error(err)
						return
					}
					d := time.Since(t0)
					mu.Lock()
					out = append(out, d)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return out
	}
	for _, load := range []struct {
		name string
		run  func(*testing.B, *client.Client, int) []time.Duration
	}{{"paced", paced}, {"saturated", saturated}} {
		b.Run(load.name, func(b *testing.B) {
			var latOn, latOff []time.Duration
			for done := 0; done < b.N; done += round {
				n := min(round, b.N-done)
				latOn = append(latOn, load.run(b, on, n)...)
				latOff = append(latOff, load.run(b, off, n)...)
			}
			b.StopTimer()
			pOn50, pOn99 := percentiles(latOn)
			pOff50, pOff99 := percentiles(latOff)
			b.ReportMetric(pOn50, "p50-on-ms")
			b.ReportMetric(pOff50, "p50-off-ms")
			b.ReportMetric(pOn99, "p99-on-ms")
			b.ReportMetric(pOff99, "p99-off-ms")
			b.ReportMetric(pOn99/pOff99, "p99-ratio")
		})
	}
}

func percentiles(d []time.Duration) (p50, p99 float64) {
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	return ms(stats.Sorted(d, 50)), ms(stats.Sorted(d, 99))
}

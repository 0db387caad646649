package standalone_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
)

// BenchmarkInvokeWarm is one warm synchronous invocation of a one-stage
// workflow through the HTTP API, on the fake runtime (its sandboxes answer
// over loopback HTTP in this process), history off, so that what it
// measures is the orchestrator's own path and the two HTTP hops:
//
//	go test -run '^$' -bench InvokeWarm -benchmem ./internal/standalone/
//
// allocs/op and B/op count the whole process: the client's call, the
// orchestrator's and the fake sandbox's.
func BenchmarkInvokeWarm(b *testing.B) {
	ctx := context.Background()
	_, api := startBenchBaton(b, standalone.Config{
		Runtime: standalone.RuntimeFake, Postgres: "off",
		Orchestration: standalone.Orchestration{KeepAlive: 5 * time.Minute},
	})
	if _, err := api.Deploy(ctx, "one.yaml", []byte(chainYAML("one", 1))); err != nil {
		b.Fatalf("deploy: %v", err)
	}
	input := []byte(`{"n": 1}`)
	if _, err := api.Invoke(ctx, "one", input); err != nil {
		b.Fatalf("warm-up invoke: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := api.Invoke(ctx, "one", input); err != nil {
			b.Fatal(err)
		}
	}
}

// startBenchBaton starts Baton for a benchmark, logging warnings only, and
// returns it with a client; it stops when the benchmark ends.
func startBenchBaton(b *testing.B, cfg standalone.Config) (*standalone.Cluster, *client.Client) {
	cl := startBaton(b, cfg, slog.LevelWarn)
	b.Cleanup(func() {
		if err := cl.Stop(context.Background()); err != nil {
			b.Errorf("stop: %v", err)
		}
	})
	return cl, &client.Client{URL: cl.URL, Token: cl.Token}
}

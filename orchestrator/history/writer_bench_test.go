package history_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"baton.dev/baton/internal/testenv"
	"baton.dev/baton/orchestrator/history"
	"baton.dev/baton/scheduler"
)

// BenchmarkWriterSaturation measures the rows per second the writer puts
// into a real Postgres when its buffer is always full: each iteration adds
// a block of invocations with three stage runs each and waits until all
// are written.
//
//	go test -run '^$' -bench WriterSaturation -benchtime 5x ./orchestrator/history/
func BenchmarkWriterSaturation(b *testing.B) {
	srv := testenv.Postgres(b)
	h, err := history.Open(context.Background(), srv.URL(), scheduler.DefaultPrices(), history.WriterConfig{Buffer: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx, 10*time.Second); close(done) }()
	b.Cleanup(func() { cancel(); <-done; h.Close() })

	const invocations = 10_000 // 40,000 rows a block
	now := time.Now()
	block := func(n int) []history.Record {
		recs := make([]history.Record, 0, 4*invocations)
		for i := range invocations {
			id := fmt.Sprintf("b%d-%d", n, i)
			recs = append(recs, history.Invocation{ID: id, Tenant: "t", Workflow: "wf", Status: "succeeded", Start: now, End: now, LatencyMs: 12.5, Cost: 1e-6})
			for _, st := range []string{"a", "b", "c"} {
				recs = append(recs, history.StageRun{InvocationID: id, Stage: st, Tenant: "t", Workflow: "wf", Function: st,
					Sandbox: "sb-1", Worker: "w-1", Start: now, End: now, Calls: 1, Attempts: 1, ExecMs: 4, CPUMilli: 1000, MemoryBytes: 1 << 28, Cost: 3e-7})
			}
		}
		return recs
	}
	h.Add(block(-1)[:1]...) // the schema is made before the clock starts
	waitBench(b, h)
	rows := 0
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		recs := block(n)
		b.StartTimer()
		h.Add(recs...)
		waitBench(b, h)
		rows += len(recs)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if st := h.Stats(); st.Dropped != 0 || st.Failures != 0 {
		b.Fatalf("writer: %+v", st)
	}
}

func waitBench(b *testing.B, h *history.History) {
	for h.Stats().Pending > 0 {
		time.Sleep(2 * time.Millisecond)
	}
	if st := h.Stats(); st.LastError != "" {
		b.Fatalf("writer: %s", st.LastError)
	}
}

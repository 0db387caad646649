package standalone_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
)

// overheadStages is the length of the no-op chain BenchmarkOrchestrationOverhead runs.
const overheadStages = 10

// BenchmarkOrchestrationOverhead measures what Baton adds per stage on top
// of the functions themselves, on containerd with warm sandboxes:
//
//	go test -run '^$' -bench OrchestrationOverhead -benchtime 200x ./internal/standalone/
//
// A workflow chains ten stages of the no-op function testfn-ok (it echoes
// its body). Each iteration invokes it through the HTTP API and reads its
// invocation record; then it calls the same ten warm sandboxes directly, in
// sequence, with the same body. It reports, as medians over the iterations:
//
//	overhead-ms/stage   (client end-to-end − Σ stage execMs) / 10: the
//	                    engine, router and API, not the functions' own calls
//	vs-direct-ms/stage  (client end-to-end − direct chain) / 10: what a
//	                    caller pays over calling the sandboxes itself
//	e2e-ms, direct-ms   the two chains' times
//	engine-ms/stage     (orchestrator latencyMs − Σ execMs) / 10: the same
//	                    as overhead-ms/stage without the client's HTTP hop
func BenchmarkOrchestrationOverhead(b *testing.B) {
	ctx := context.Background()
	cl, api := startBenchBaton(b, standalone.Config{
		Runtime: standalone.RuntimeContainerd, Subnet: "10.174.0.0/16",
		Orchestration: standalone.Orchestration{KeepAlive: 5 * time.Minute},
	})
	const name = "noop-chain"
	if _, err := api.Deploy(ctx, name+".yaml", []byte(chainYAML(name, overheadStages))); err != nil {
		b.Fatalf("deploy: %v", err)
	}
	input := []byte(`{"n": 1}`)
	warm, err := api.Invoke(ctx, name, input)
	if err != nil {
		b.Fatalf("warm-up invoke: %v", err)
	}
	endpoints := sandboxEndpoints(b, ctx, cl.ContainerdAddress, api, warm.InvocationID)
	httpc := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
	direct := func() time.Duration {
		start := time.Now()
		body := input
		for _, ep := range endpoints {
			body = postDirect(b, httpc, ep, body)
		}
		return time.Since(start)
	}
	direct() // open the direct connections

	var overhead, vsDirect, e2e, directs, engine []float64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		res, err := api.Invoke(ctx, name, input)
		total := time.Since(start)
		if err != nil {
			b.Fatalf("invoke: %v", err)
		}
		if res.ColdStarts != 0 || !bytes.Equal(bytes.TrimSpace(res.Output), input) {
			b.Fatalf("invocation had %d cold starts and answered %q", res.ColdStarts, res.Output)
		}
		b.StopTimer()
		inv, err := api.Invocation(ctx, res.InvocationID)
		if err != nil {
			b.Fatal(err)
		}
		exec := 0.0
		for _, st := range inv.Stages {
			exec += st.ExecMs
		}
		d := direct()
		b.StartTimer()
		totalMs, directMs := ms(total), ms(d)
		overhead = append(overhead, (totalMs-exec)/overheadStages)
		vsDirect = append(vsDirect, (totalMs-directMs)/overheadStages)
		engine = append(engine, (inv.LatencyMs-exec)/overheadStages)
		e2e = append(e2e, totalMs)
		directs = append(directs, directMs)
	}
	b.ReportMetric(median(overhead), "overhead-ms/stage")
	b.ReportMetric(median(vsDirect), "vs-direct-ms/stage")
	b.ReportMetric(median(engine), "engine-ms/stage")
	b.ReportMetric(median(e2e), "e2e-ms")
	b.ReportMetric(median(directs), "direct-ms")
}

// chainYAML is a workflow of n stages of testfn-ok, each needing the one before.
func chainYAML(name string, n int) string {
	var stages strings.Builder
	for i := range n {
		if i == 0 {
			fmt.Fprintf(&stages, "    - {name: s%d, function: f}\n", i)
		} else {
			fmt.Fprintf(&stages, "    - {name: s%d, function: f, needs: [s%d]}\n", i, i-1)
		}
	}
	return fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata:
  name: %s
spec:
  functions:
    f:
      image: baton.local/testfn-ok:v1
      resources: {cpu: 250m, memory: 64Mi}
  stages:
%s`, name, stages.String())
}

// sandboxEndpoints returns the endpoint of the sandbox each stage of an
// invocation ran on, in stage order, from the sandboxes' containerd labels.
func sandboxEndpoints(b *testing.B, ctx context.Context, address string, api *client.Client, invocationID string) []string {
	inv, err := api.Invocation(ctx, invocationID)
	if err != nil {
		b.Fatal(err)
	}
	ctrd, err := containerd.New(address)
	if err != nil {
		b.Fatalf("connect to containerd: %v", err)
	}
	defer ctrd.Close()
	cctx := namespaces.WithNamespace(ctx, "baton")
	var endpoints []string
	for _, st := range inv.Stages {
		c, err := ctrd.LoadContainer(cctx, st.Sandbox)
		if err != nil {
			b.Fatalf("stage %s: sandbox %s: %v", st.Stage, st.Sandbox, err)
		}
		labels, err := c.Labels(cctx)
		if err != nil {
			b.Fatal(err)
		}
		ep := labels["baton.dev/endpoint"]
		if ep == "" {
			b.Fatalf("sandbox %s has no endpoint label", st.Sandbox)
		}
		endpoints = append(endpoints, ep)
	}
	if len(endpoints) != overheadStages {
		b.Fatalf("%d stages in the record, want %d", len(endpoints), overheadStages)
	}
	return endpoints
}

// postDirect calls a sandbox as the router does and returns its answer.
func postDirect(b *testing.B, c *http.Client, endpoint string, body []byte) []byte {
	resp, err := c.Post(endpoint+"/", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatalf("call %s directly: %v", endpoint, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("call %s directly: %d %v", endpoint, resp.StatusCode, err)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// median of xs (which it sorts).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

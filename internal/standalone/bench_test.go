package standalone_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"baton.dev/baton/dags"
	"baton.dev/baton/internal/standalone"
)

// BenchmarkSamples measures each sample workflow end to end on containerd,
// cold and warm side by side in one run:
//
//	go test -run '^$' -bench Samples -benchtime 10x ./internal/standalone/
//
// cold deploys the workflow under a fresh name for every iteration, so
// every stage waits for a new sandbox; it also reports the mean cold start
// of one sandbox and its phases (image ready, container create, network,
// task start, healthy). warm invokes a deployed workflow whose sandboxes
// are already up.
func BenchmarkSamples(b *testing.B) {
	ctx := context.Background()
	_, api := startBenchBaton(b, standalone.Config{
		Runtime: standalone.RuntimeContainerd, Subnet: "10.176.0.0/16",
		Orchestration: standalone.Orchestration{KeepAlive: 30 * time.Second},
	})
	samples, err := dags.Samples()
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range samples {
		b.Run(s.Name+"/cold", func(b *testing.B) {
			var phases coldPhases
			b.StopTimer()
			for i := range b.N {
				name := fmt.Sprintf("%s-cold-%d", s.Name, i)
				doc := renamed(b, s.YAML, s.Name, name)
				if _, err := api.Deploy(ctx, name+".yaml", doc); err != nil {
					b.Fatalf("deploy %s: %v", name, err)
				}
				b.StartTimer()
				res, err := api.Invoke(ctx, name, s.Input)
				b.StopTimer()
				if err != nil {
					b.Fatalf("invoke %s: %v", name, err)
				}
				if res.ColdStarts == 0 {
					b.Fatalf("invocation of a fresh deployment %s had no cold start", name)
				}
				inv, err := api.Invocation(ctx, res.InvocationID)
				if err != nil {
					b.Fatal(err)
				}
				for _, st := range inv.Stages {
					if st.ColdStart != nil {
						phases.add(st.ColdStart.Image, st.ColdStart.Create, st.ColdStart.Network, st.ColdStart.Start, st.ColdStart.Healthy, st.ColdStart.Total)
					}
				}
				if err := api.DeleteWorkflow(ctx, name); err != nil {
					b.Fatalf("delete %s: %v", name, err)
				}
			}
			b.ReportMetric(float64(phases.n)/float64(b.N), "coldstarts/op")
			phases.report(b)
		})
		b.Run(s.Name+"/warm", func(b *testing.B) {
			name := s.Name + "-warm"
			if _, err := api.Deploy(ctx, name+".yaml", renamed(b, s.YAML, s.Name, name)); err != nil {
				b.Fatalf("deploy %s: %v", name, err)
			}
			if _, err := api.Invoke(ctx, name, s.Input); err != nil { // warm it up
				b.Fatalf("invoke %s: %v", name, err)
			}
			b.ResetTimer()
			for range b.N {
				res, err := api.Invoke(ctx, name, s.Input)
				if err != nil {
					b.Fatalf("invoke %s: %v", name, err)
				}
				if res.ColdStarts != 0 {
					b.Fatalf("warm invocation had %d cold starts (Server-Timing %s)", res.ColdStarts, res.ServerTiming)
				}
			}
		})
	}
}

// renamed returns the workflow document with metadata.name old replaced.
func renamed(b *testing.B, doc []byte, old, name string) []byte {
	from := []byte("\n  name: " + old + "\n")
	if !bytes.Contains(doc, from) {
		b.Fatalf("workflow %s: metadata.name line %q not found", old, from)
	}
	return bytes.Replace(doc, from, []byte("\n  name: "+name+"\n"), 1)
}

// coldPhases sums cold-start phases over the sandboxes of a benchmark.
type coldPhases struct {
	n                                             int
	image, create, network, start, healthy, total time.Duration
}

func (p *coldPhases) add(image, create, network, start, healthy, total time.Duration) {
	p.n++
	p.image += image
	p.create += create
	p.network += network
	p.start += start
	p.healthy += healthy
	p.total += total
}

// report gives each phase's mean over the sandboxes, in milliseconds.
func (p *coldPhases) report(b *testing.B) {
	if p.n == 0 {
		return
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(p.n) }
	b.ReportMetric(ms(p.total), "coldstart-ms")
	b.ReportMetric(ms(p.image), "image-ms")
	b.ReportMetric(ms(p.create), "create-ms")
	b.ReportMetric(ms(p.network), "network-ms")
	b.ReportMetric(ms(p.start), "start-ms")
	b.ReportMetric(ms(p.healthy), "healthy-ms")
}

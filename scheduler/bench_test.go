package scheduler

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// eightKnobWorkflow has four auto functions: 8 knobs.
func eightKnobWorkflow() string {
	var b strings.Builder
	b.WriteString("apiVersion: baton.dev/v1\nkind: Workflow\nmetadata: {name: eight}\nspec:\n  qos: {latency: 2s, percentile: 95}\n  functions:\n")
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&b, "    f%d:\n      image: x/f:v1\n      resources: {cpu: auto, memory: auto}\n      bounds: {cpu: [250m, 2000m], memory: [128Mi, 1Gi]}\n", i)
	}
	b.WriteString("  stages:\n    - {name: s0, function: f0}\n    - {name: s1, function: f1, needs: [s0]}\n    - {name: s2, function: f2, needs: [s0]}\n    - {name: s3, function: f3, needs: [s1, s2]}\n")
	return b.String()
}

// benchAquatope returns an aquatope policy that has observed n evaluations.
func benchAquatope(b *testing.B, n int) (*aquatope, *Space) {
	w := parse(b, eightKnobWorkflow())
	s, err := NewSpace(w, SpaceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	target, _ := TargetOf(w)
	p := newAquatope(s, target, n+10, 1, AquatopeOptions{})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		c := s.Config(s.Bayes().Sample(rng))
		var o Observation
		for k := 0; k < 20; k++ {
			var lat float64
			for _, f := range s.Functions {
				set := c[f]
				lat += 300e3/float64(set.CPUMilli) + 50e3/float64(set.MemoryBytes/MiB)
			}
			lat *= math.Exp(0.05 * rng.NormFloat64())
			o.LatencyMs = append(o.LatencyMs, lat)
			o.CostUSD = append(o.CostUSD, 1e-6*lat)
		}
		if err := p.Observe(context.Background(), c, o); err != nil {
			b.Fatal(err)
		}
	}
	p.designAt = len(p.design)
	return p, s
}

// BenchmarkAquatopeSuggest8Knobs100Obs measures the decision time that
// must stay small next to a tuning window: one suggestion with 8 knobs and
// 100 observations (budget 100 ms). "refit"
// includes the periodic multi-start hyper-parameter search (every tenth
// evaluation), "warm" the usual warm-started fit.
func BenchmarkAquatopeSuggest8Knobs100Obs(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
	}{{"refit", 100}, {"warm", 101}} {
		b.Run(tc.name, func(b *testing.B) {
			p, _ := benchAquatope(b, tc.n)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.pending = -1
				if _, err := p.Suggest(ctx); err != nil && err != ErrExplorationDone {
					b.Fatal(err)
				}
			}
		})
	}
}

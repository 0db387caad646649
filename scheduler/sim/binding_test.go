package sim

import (
	"testing"

	"baton.dev/baton/scheduler"
)

// TestMeetsLatencyAgreesWithPercentile checks the oracle's early-exit check
// against the percentile it stands for, on both sides of it.
func TestMeetsLatencyAgreesWithPercentile(t *testing.T) {
	s, space := mlPipeline(t)
	min := space.Config(make([]float64, space.Dims())) // every knob at its lower bound
	for _, tc := range []struct {
		name  string
		c     scheduler.Config
		p     float64
		scale float64 // of the percentile, for the limit
		want  bool
	}{
		{"max, p95 at its percentile", space.Max(), 95, 1, true},
		{"max, p98 at its percentile", space.Max(), 98.19, 1, true},
		{"max, p98 just under", space.Max(), 98.19, 0.999, false},
		{"min, p50 just over", min, 50, 1.001, true},
		{"min, p99 just under", min, 99, 0.999, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.scale * s.LatencyPercentileMs(tc.c, tc.p)
			if got := s.MeetsLatency(tc.c, tc.p, limit); got != tc.want {
				t.Errorf("MeetsLatency(p%g, %.2f ms) = %v, want %v", tc.p, limit, got, tc.want)
			}
		})
	}
}

// TestBindingTargetBinds checks the simulator's binding target on a
// sample: static-max meets it by the truth, a millisecond less it does
// not, and its check windows were run.
func TestBindingTargetBinds(t *testing.T) {
	s, space := mlPipeline(t)
	b := BindingTarget(s, space, 95, 100, 0.01, 200, 1)
	if !s.MeetsLatency(space.Max(), b.SetBy, b.Target.LatencyMs) {
		t.Errorf("static-max breaks its own binding target %g ms", b.Target.LatencyMs)
	}
	if s.MeetsLatency(space.Max(), b.SetBy, b.Target.LatencyMs-1) {
		t.Errorf("binding target %g ms is not the tightest", b.Target.LatencyMs)
	}
	if b.CheckWindows != 200 || b.CheckMissRate < 0 || b.CheckMissRate > 1 {
		t.Errorf("check %d windows, %g missed", b.CheckWindows, b.CheckMissRate)
	}
}

// mlPipeline simulates ml-pipeline from its synthetic profile.
func mlPipeline(t *testing.T) (*Simulator, *scheduler.Space) {
	t.Helper()
	w := loadWorkflow(t, "ml-pipeline")
	s, err := New(w, shippedProfile(t), scheduler.DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	space, err := scheduler.NewSpace(w, scheduler.SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s, space
}

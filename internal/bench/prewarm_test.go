package bench

import (
	"strings"
	"testing"
	"time"

	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/trace"
)

// TestScaledPrewarmPolicy: a replay at 10× keeps the policies' times in
// trace time.
func TestScaledPrewarmPolicy(t *testing.T) {
	p, err := ScaledPrewarmPolicy("keepalive-10m", 10)
	if err != nil {
		t.Fatal(err)
	}
	if ka, ok := p.(prewarm.KeepAlive); !ok || ka.Duration != time.Minute {
		t.Errorf("keepalive-10m at 10×: %#v, want a one-minute keep-alive", p)
	}
	p, err = ScaledPrewarmPolicy("keepalive-2m", 10)
	if err != nil {
		t.Fatal(err)
	}
	if ka, ok := p.(prewarm.KeepAlive); !ok || ka.Duration != 12*time.Second {
		t.Errorf("keepalive-2m at 10×: %#v, want a 12 s keep-alive", p)
	}
	if _, err := ScaledPrewarmPolicy("keepalive-never", 10); err == nil || !strings.Contains(err.Error(), "positive duration") {
		t.Errorf("keepalive-never: error %v, want one asking for a positive duration", err)
	}
	p, err = ScaledPrewarmPolicy("aquatope", 10)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := p.(prewarm.Aquatope); !ok || a.KeepAlive != prewarm.AquatopeKeepAlive/10 || !a.Chain || a.Forecast.IntervalsPerDay != 1440 {
		t.Errorf("aquatope at 10×: %#v", p)
	}
	if _, err := ScaledPrewarmPolicy("oracle", 10); err == nil || !strings.Contains(err.Error(), "cannot run live") {
		t.Errorf("oracle: error %v, want one saying it cannot run live", err)
	}
}

// TestPickPrewarmFunctions spreads the choice over the eligible functions'
// invocation counts and leaves out those too rare or too hot.
func TestPickPrewarmFunctions(t *testing.T) {
	tr := &trace.Trace{Minutes: 10}
	for i, n := range []int{1, 5, 50, 200, 20, 1000, 9} {
		f := trace.Function{Name: string(rune('a' + i))}
		for k := range n {
			f.Invocations = append(f.Invocations, trace.Invocation{Start: float64(k) * 600 / float64(n)})
		}
		tr.Functions = append(tr.Functions, f)
	}
	var got []string
	for _, f := range pickPrewarmFunctions(tr, 10, 3, 3, 300) {
		got = append(got, f.Name)
	}
	// Eligible by count, most first: d(200) c(50) e(20) g(9) b(5).
	if want := "d c g"; strings.Join(got, " ") != want {
		t.Errorf("picked %v, want %s", got, want)
	}
}

// TestRunPrewarmNeedsAFunctionToReplay: a trace with no function in the
// replayable range is refused before any Baton is started.
func TestRunPrewarmNeedsAFunctionToReplay(t *testing.T) {
	tr := &trace.Trace{Minutes: 10, Functions: []trace.Function{{Name: "rare", Invocations: []trace.Invocation{{Start: 1}}}}}
	_, err := RunPrewarm(t.Context(), PrewarmOptions{Trace: tr, Minutes: 10, Pick: 3, Speedup: 10, Policies: []string{"none"}})
	if err == nil || !strings.Contains(err.Error(), "no function of the trace has between 3 and 300 invocations in 10 minutes") {
		t.Errorf("error %v", err)
	}
}

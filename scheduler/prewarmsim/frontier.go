package prewarmsim

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"baton.dev/baton/scheduler/prewarm"
)

// FrontierReport is each policy's frontier on one trace: cold-start rate
// against idle sandbox-seconds as the policy's free parameter moves.
type FrontierReport struct {
	// Trace names the trace; Functions, Minutes and Invocations size it.
	Trace       string `json:"trace"`
	Functions   int    `json:"functions"`
	Minutes     int    `json:"minutes"`
	Invocations int    `json:"invocations"`
	// Frontiers has one entry per sweep, in the order asked.
	Frontiers []Frontier `json:"frontiers"`
	// Reference is keepalive-10m's point, the one the targets are put
	// against (absent when the sweeps leave it out).
	Reference *FrontierPoint `json:"reference,omitempty"`
	// Comparison reads every frontier at a few cold-start rates: the
	// reference's and 0.1%, 0.2%, 0.5%, 1% and 2%.
	Comparison []FrontierRow `json:"comparison"`
	// Versus compares aquatope's frontier with each other policy's over
	// the cold-start rates from RangeLow to RangeHigh.
	Versus []FrontierVersus `json:"versus"`
	// Results are the simulation's figures for every point, per class of
	// function included.
	Results []Result `json:"results"`
	// WallSeconds is how long the whole simulation took.
	WallSeconds float64 `json:"wallSeconds"`
}

// Frontier is one sweep's points.
type Frontier struct {
	Family    string          `json:"family"`
	Parameter string          `json:"parameter"`
	Points    []FrontierPoint `json:"points"`
}

// FrontierPoint is one policy of a sweep.
type FrontierPoint struct {
	// Label is the parameter's value; Policy the policy's full name.
	Label              string  `json:"label"`
	Policy             string  `json:"policy"`
	ColdStartRate      float64 `json:"coldStartRate"`
	IdleSandboxSeconds float64 `json:"idleSandboxSeconds"`
	// Efficient is false when another point of the sweep has at most its
	// cold starts and its idle time, and fewer of one.
	Efficient bool `json:"efficient"`
}

// FrontierRow is every frontier read at one cold-start rate.
type FrontierRow struct {
	ColdStartRate float64 `json:"coldStartRate"`
	// Idle is each frontier's idle sandbox-seconds at the rate, in the
	// order of Frontiers; NaN (null in JSON: omitted) where the frontier
	// never gets down to that rate.
	Idle []OptionalFloat `json:"idleSandboxSeconds"`
}

// FrontierVersus compares aquatope's frontier with another's.
type FrontierVersus struct {
	Family string `json:"family"`
	// WorstRatio is the largest ratio of aquatope's idle to the other's
	// at the same cold-start rate from RangeLow to RangeHigh (+Inf where aquatope
	// never gets down to a rate the other reaches), and WorstAt that rate.
	WorstRatio OptionalFloat `json:"worstRatio"`
	WorstAt    float64       `json:"worstAt"`
	// Below is whether aquatope's idle is under the other's at every rate
	// checked (WorstRatio < 1), false when the other reaches none of them.
	Below bool `json:"below"`
}

// OptionalFloat is a float that is written to JSON as null when it is not
// a number or infinite.
type OptionalFloat float64

// MarshalJSON implements json.Marshaler.
func (f OptionalFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return []byte(fmt.Sprint(v)), nil
}

// frontierRates are the cold-start rates Comparison reads the frontiers
// at, besides the reference's.
func frontierRates() []float64 { return []float64{0.001, 0.002, 0.005, 0.01, 0.02} }

// RangeLow and RangeHigh span the cold-start rates over which aquatope's
// frontier is compared with the others' (Versus).
const (
	RangeLow  = 0.001
	RangeHigh = 0.02
)

// referencePolicy is the point the targets are put against.
const referencePolicy = "keepalive-10m"

// aquatopeFamily names the sweep compared with the others in Versus.
const aquatopeFamily = "aquatope"

// RunFrontier simulates every point of the sweeps on cfg's trace, in one
// pass over it, and reads their frontiers.
func RunFrontier(ctx context.Context, cfg Config, sweeps []prewarm.Sweep) (*FrontierReport, error) {
	start := time.Now()
	var policies []prewarm.PrewarmPolicy
	seen := map[string]bool{}
	for _, s := range sweeps {
		for _, p := range s.Points {
			if name := p.Policy.Name(); !seen[name] {
				seen[name] = true
				policies = append(policies, p.Policy)
			}
		}
	}
	if len(policies) == 0 {
		return nil, fmt.Errorf("pre-warm frontier: no policy to simulate")
	}
	rep, err := Run(ctx, cfg, policies)
	if err != nil {
		return nil, err
	}
	out := BuildFrontier(rep, sweeps)
	out.WallSeconds = time.Since(start).Seconds()
	return out, nil
}

// BuildFrontier reads the sweeps' frontiers from a report holding every
// point's results.
func BuildFrontier(rep *Report, sweeps []prewarm.Sweep) *FrontierReport {
	out := &FrontierReport{Trace: rep.Trace, Functions: rep.Functions, Minutes: rep.Minutes, Invocations: rep.Invocations, Results: rep.Results}
	byName := map[string]*Result{}
	for i := range rep.Results {
		byName[rep.Results[i].Policy] = &rep.Results[i]
	}
	for _, s := range sweeps {
		f := Frontier{Family: s.Family, Parameter: s.Parameter}
		for _, p := range s.Points {
			r := byName[p.Policy.Name()]
			if r == nil {
				continue
			}
			pt := FrontierPoint{Label: p.Label, Policy: r.Policy, ColdStartRate: r.ColdStartRate, IdleSandboxSeconds: r.IdleSandboxSeconds}
			if pt.Policy == referencePolicy && out.Reference == nil {
				ref := pt
				out.Reference = &ref
			}
			f.Points = append(f.Points, pt)
		}
		markEfficient(f.Points)
		out.Frontiers = append(out.Frontiers, f)
	}
	if out.Reference != nil {
		out.Reference.Efficient = true
	}
	var rates []float64
	if out.Reference != nil {
		rates = append(rates, out.Reference.ColdStartRate)
	}
	rates = append(rates, frontierRates()...)
	for _, c := range rates {
		row := FrontierRow{ColdStartRate: c}
		for i := range out.Frontiers {
			row.Idle = append(row.Idle, OptionalFloat(out.Frontiers[i].IdleAt(c)))
		}
		out.Comparison = append(out.Comparison, row)
	}
	out.Versus = versus(out.Frontiers)
	return out
}

// markEfficient marks the points no other point dominates.
func markEfficient(pts []FrontierPoint) {
	for i := range pts {
		pts[i].Efficient = true
		for j := range pts {
			a, b := &pts[j], &pts[i]
			if a.ColdStartRate <= b.ColdStartRate && a.IdleSandboxSeconds <= b.IdleSandboxSeconds &&
				(a.ColdStartRate < b.ColdStartRate || a.IdleSandboxSeconds < b.IdleSandboxSeconds) {
				pts[i].Efficient = false
				break
			}
		}
	}
}

// Efficient returns the frontier's efficient points by cold-start rate,
// ascending (and so idle time, descending).
func (f *Frontier) Efficient() []FrontierPoint {
	var out []FrontierPoint
	for _, p := range f.Points {
		if p.Efficient {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b FrontierPoint) int {
		return cmp.Or(cmp.Compare(a.ColdStartRate, b.ColdStartRate), cmp.Compare(a.IdleSandboxSeconds, b.IdleSandboxSeconds))
	})
	return out
}

// IdleAt is the frontier's idle sandbox-seconds at cold-start rate c:
// between two efficient points, interpolated linearly in the logarithm of
// the cold-start rate (the plot's axis); past the point with the most cold
// starts, that point's idle (a policy with fewer cold starts does for a
// target of more); NaN below the point with the fewest, which the sweep
// never got down to.
func (f *Frontier) IdleAt(c float64) float64 {
	e := f.Efficient()
	if len(e) == 0 || c < e[0].ColdStartRate {
		return math.NaN()
	}
	for k := 0; k+1 < len(e); k++ {
		a, b := e[k], e[k+1]
		if c >= b.ColdStartRate {
			continue
		}
		la, lb := logRate(a.ColdStartRate), logRate(b.ColdStartRate)
		if lb <= la {
			return a.IdleSandboxSeconds
		}
		t := (logRate(c) - la) / (lb - la)
		return a.IdleSandboxSeconds + t*(b.IdleSandboxSeconds-a.IdleSandboxSeconds)
	}
	return e[len(e)-1].IdleSandboxSeconds
}

// logRate is the logarithm of a cold-start rate, a zero rate taken as one
// in a billion.
func logRate(c float64) float64 { return math.Log(math.Max(c, 1e-9)) }

// versus compares aquatope's frontier with every other but the oracle's at
// each efficient point's cold-start rate between RangeLow and RangeHigh
// and at both: both frontiers are piecewise linear between those, so their ratio
// is largest at one of them or at an end.
func versus(fs []Frontier) []FrontierVersus {
	k := slices.IndexFunc(fs, func(f Frontier) bool { return f.Family == aquatopeFamily })
	if k < 0 {
		return nil
	}
	rates := []float64{RangeLow, RangeHigh}
	for _, f := range fs {
		for _, p := range f.Efficient() {
			if p.ColdStartRate > RangeLow && p.ColdStartRate < RangeHigh {
				rates = append(rates, p.ColdStartRate)
			}
		}
	}
	slices.Sort(rates)
	var out []FrontierVersus
	for i := range fs {
		if i == k || fs[i].Family == "oracle" {
			continue
		}
		v := FrontierVersus{Family: fs[i].Family, WorstRatio: OptionalFloat(math.Inf(-1))}
		for _, c := range rates {
			other := fs[i].IdleAt(c)
			if math.IsNaN(other) {
				continue // the other never gets down to c either
			}
			ratio := fs[k].IdleAt(c) / other
			if math.IsNaN(ratio) {
				ratio = math.Inf(1)
			}
			if ratio > float64(v.WorstRatio) {
				v.WorstRatio, v.WorstAt = OptionalFloat(ratio), c
			}
		}
		if math.IsInf(float64(v.WorstRatio), -1) {
			v.WorstRatio = OptionalFloat(math.NaN()) // the other reaches none of the rates
		}
		v.Below = float64(v.WorstRatio) < 1
		out = append(out, v)
	}
	return out
}

package prewarm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sweep is one policy along its free parameter: the points of its
// frontier of cold starts against idle time.
type Sweep struct {
	// Family names the policy (keepalive, oracle, hybrid-histogram,
	// aquatope).
	Family string
	// Parameter says what moves along the sweep.
	Parameter string
	// Points are the policies of the sweep, each with the value of its
	// parameter as a label.
	Points []SweepPoint
}

// SweepPoint is one policy of a sweep.
type SweepPoint struct {
	// Label is the parameter's value, as the plot shows it.
	Label  string
	Policy PrewarmPolicy
}

// Sweeps returns the default sweeps of the frontier: keepalive-N and the
// oracle across keep-alives, hybrid-histogram across histogram ranges, and
// aquatope across its keep-alive above the floor, floor quantile and
// cold-start cost, moved together and one at a time from New's settings.
func Sweeps() []Sweep {
	keepAlives := []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, time.Hour}
	ka := Sweep{Family: "keepalive", Parameter: "keep-alive"}
	for _, d := range keepAlives {
		ka.Points = append(ka.Points, SweepPoint{Label: shortDuration(d), Policy: KeepAlive{Duration: d}})
	}
	oracle := Sweep{Family: "oracle", Parameter: "keep-alive above its floor"}
	for _, d := range []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute} {
		oracle.Points = append(oracle.Points, SweepPoint{Label: shortDuration(d), Policy: Oracle{KeepAlive: d}})
	}
	hybrid := Sweep{Family: "hybrid-histogram", Parameter: "histogram range"}
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour} {
		hybrid.Points = append(hybrid.Points, SweepPoint{Label: shortDuration(d), Policy: HybridHistogram{Range: d}})
	}
	// Aquatope's keep-alive, floor quantile and cold-start cost move
	// together from frugal to lavish, New's settings fourth; then each
	// moved alone from New's.
	aquatope := Sweep{Family: "aquatope", Parameter: "keep-alive, q quantile, c cost"}
	for _, a := range []Aquatope{
		{KeepAlive: 30 * time.Second, Quantile: 0.5, ColdStartCost: time.Minute},
		{KeepAlive: 30 * time.Second, Quantile: 0.5, ColdStartCost: 2 * time.Minute},
		{KeepAlive: time.Minute, Quantile: 0.5, ColdStartCost: 5 * time.Minute},
		{KeepAlive: AquatopeKeepAlive, Quantile: AquatopeQuantile, ColdStartCost: AquatopeColdStartCost},
		{KeepAlive: 5 * time.Minute, Quantile: 0.95, ColdStartCost: time.Hour},
		{KeepAlive: 10 * time.Minute, Quantile: 0.95, ColdStartCost: time.Hour},
		{KeepAlive: 15 * time.Minute, Quantile: 0.95, ColdStartCost: 2 * time.Hour},
		{KeepAlive: 2 * time.Minute, Quantile: AquatopeQuantile, ColdStartCost: AquatopeColdStartCost},
		{KeepAlive: AquatopeKeepAlive, Quantile: 0.95, ColdStartCost: AquatopeColdStartCost},
		{KeepAlive: AquatopeKeepAlive, Quantile: AquatopeQuantile, ColdStartCost: 20 * time.Minute},
	} {
		a.Chain = true
		aquatope.Points = append(aquatope.Points, SweepPoint{
			Label:  fmt.Sprintf("%s q%s c%s", shortDuration(a.KeepAlive), strconv.FormatFloat(a.Quantile, 'f', -1, 64), shortDuration(a.ColdStartCost)),
			Policy: a,
		})
	}
	return []Sweep{ka, oracle, hybrid, aquatope}
}

// CoarseSweeps returns four or five points of each of Sweeps, those
// about keepalive-10m's cold-start rate on the synthetic traces: for a
// trace so long that every point costs minutes.
func CoarseSweeps() []Sweep {
	keep := map[string]bool{
		"keepalive-2m": true, "keepalive-5m": true, "keepalive-10m": true, "keepalive-20m": true,
		"oracle-1m": true, "oracle-2m": true, "oracle": true, "oracle-10m": true,
		"hybrid-histogram-30m": true, "hybrid-histogram-1h": true, "hybrid-histogram": true, "hybrid-histogram-8h": true,
		"aquatope-30s-c2m": true, "aquatope-1m-c5m": true, "aquatope": true, "aquatope-q0.95-c1h": true, "aquatope-10m-q0.95-c1h": true,
	}
	out := Sweeps()
	for i := range out {
		out[i].Points = slices.DeleteFunc(out[i].Points, func(p SweepPoint) bool { return !keep[p.Policy.Name()] })
	}
	return out
}

// shortDuration writes d as 90s, 2m or 4h: the largest whole unit.
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return d.String()
}

// parseParameterised returns the policy a name with parameters spells:
// keepalive-DURATION, oracle-DURATION, hybrid-histogram-DURATION (its
// range) or aquatope-DURATION (its keep-alive), aquatope-qQ (its floor
// quantile) and aquatope-DURATION-qQ; ok is false for a name of none of
// these forms.
func parseParameterised(name string) (p PrewarmPolicy, ok bool, err error) {
	for _, prefix := range []string{"keepalive-", "oracle-", "hybrid-histogram-", "aquatope-"} {
		rest, found := strings.CutPrefix(name, prefix)
		if !found || rest == "nochain" {
			continue
		}
		if prefix == "aquatope-" {
			a, err := parseAquatope(rest)
			if err != nil {
				return nil, true, fmt.Errorf("pre-warm policy %q: %w", name, err)
			}
			return a, true, nil
		}
		d, err := time.ParseDuration(rest)
		if err != nil || d <= 0 {
			return nil, true, fmt.Errorf("pre-warm policy %q: want %s and a positive duration, such as %s5m or %s90s", name, prefix, prefix, prefix)
		}
		switch prefix {
		case "oracle-":
			return Oracle{KeepAlive: d}, true, nil
		case "hybrid-histogram-":
			return HybridHistogram{Range: d}, true, nil
		}
		return KeepAlive{Duration: d}, true, nil
	}
	return nil, false, nil
}

// parseAquatope reads aquatope's parameters from the rest of its name:
// DURATION, qQ or DURATION-qQ, each optionally followed by -cDURATION
// (its cold-start cost), or cDURATION alone; after nochain- for
// aquatope-nochain.
func parseAquatope(rest string) (Aquatope, error) {
	a := Aquatope{Chain: true}
	if after, ok := strings.CutPrefix(rest, "nochain-"); ok {
		a.Chain, rest = false, after
	}
	if strings.HasPrefix(rest, "c") {
		rest = "-" + rest
	}
	a.ColdStartCost = AquatopeColdStartCost
	if head, cost, ok := strings.Cut(rest, "-c"); ok {
		d, err := time.ParseDuration(cost)
		if err != nil || d < 0 {
			return a, fmt.Errorf("want a cold-start cost ≥ 0 after -c, such as aquatope-c20m (c0: none)")
		}
		a.ColdStartCost = d
		rest = head
		if rest == "" {
			return a, nil
		}
	}
	ka, q, hasQ := strings.Cut(rest, "-q")
	if strings.HasPrefix(rest, "q") {
		ka, q, hasQ = "", rest[1:], true
	}
	if ka != "" {
		d, err := time.ParseDuration(ka)
		if err != nil || d <= 0 {
			return a, fmt.Errorf("want aquatope-DURATION, aquatope-qQUANTILE or aquatope-DURATION-qQUANTILE, with a positive duration such as 90s and a quantile in (0, 1)")
		}
		a.KeepAlive = d
	}
	if hasQ {
		v, err := strconv.ParseFloat(q, 64)
		if err != nil || !(v > 0 && v < 1) {
			return a, fmt.Errorf("want aquatope-DURATION, aquatope-qQUANTILE or aquatope-DURATION-qQUANTILE, with a positive duration such as 90s and a quantile in (0, 1)")
		}
		a.Quantile = v
	}
	return a, nil
}

package prewarm

import (
	"fmt"
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
// aquatope across its keep-alive above the floor (at its default floor
// quantile) and across its floor quantile (at its default keep-alive).
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
	aquatope := Sweep{Family: "aquatope", Parameter: "keep-alive; floor quantile (q)"}
	for _, d := range []time.Duration{30 * time.Second, time.Minute, AquatopeKeepAlive, 5 * time.Minute, 10 * time.Minute} {
		aquatope.Points = append(aquatope.Points, SweepPoint{Label: shortDuration(d), Policy: Aquatope{Chain: true, KeepAlive: d}})
	}
	for _, q := range []float64{0.5, 0.8, 0.99} {
		aquatope.Points = append(aquatope.Points, SweepPoint{Label: "q" + strconv.FormatFloat(q, 'f', -1, 64), Policy: Aquatope{Chain: true, Quantile: q}})
	}
	return []Sweep{ka, oracle, hybrid, aquatope}
}

// shortDuration writes d as 90s, 2m or 4h: the largest whole unit.
func shortDuration(d time.Duration) string {
	switch {
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
// (its cold-start cost), or cDURATION alone.
func parseAquatope(rest string) (Aquatope, error) {
	a := Aquatope{Chain: true}
	if strings.HasPrefix(rest, "c") {
		rest = "-" + rest
	}
	if head, cost, ok := strings.Cut(rest, "-c"); ok {
		d, err := time.ParseDuration(cost)
		if err != nil || d <= 0 {
			return a, fmt.Errorf("want a positive cold-start cost after -c, such as aquatope-c10m")
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

package prewarmsim

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the frontier report as indented JSON.
func (r *FrontierReport) WriteJSON(w io.Writer) error { return writeJSON(w, r, "pre-warm frontier") }

// WriteTable writes the frontiers as tables: every point, then every
// frontier read at the same cold-start rates, then how aquatope stands
// against the targets.
func (r *FrontierReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "trace: %s — %d functions, %d minutes, %d invocations; %.0f s\n\n", r.Trace, r.Functions, r.Minutes, r.Invocations, r.WallSeconds)
	fmt.Fprintln(w, "frontiers: cold-start rate against idle sandbox-seconds as each policy's parameter moves (* efficient: no other point of the policy has fewer of both)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FAMILY\tPARAMETER\tPOLICY\tCOLD%\tIDLE SANDBOX-S\t\t")
	for _, f := range r.Frontiers {
		for _, p := range f.Points {
			mark := ""
			if p.Efficient {
				mark = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.0f\t%s\t\n", f.Family, p.Label, p.Policy, 100*p.ColdStartRate, p.IdleSandboxSeconds, mark)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write pre-warm frontier: %w", err)
	}
	fmt.Fprintln(w, "\neach frontier at the same cold-start rate: idle sandbox-seconds (interpolated in log cold-start rate between efficient points; - where it never gets that low) and aquatope's ratio to each")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "COLD%\t"
	for _, f := range r.Frontiers {
		header += strings.ToUpper(f.Family) + "\t"
	}
	aq := slices.IndexFunc(r.Frontiers, func(f Frontier) bool { return f.Family == aquatopeFamily })
	if aq >= 0 {
		for i, f := range r.Frontiers {
			if i != aq {
				header += "AQUATOPE/" + strings.ToUpper(f.Family) + "\t"
			}
		}
	}
	fmt.Fprintln(tw, header)
	for k, row := range r.Comparison {
		line := fmt.Sprintf("%.3f", 100*row.ColdStartRate)
		if k == 0 && r.Reference != nil {
			line += " (" + r.Reference.Policy + ")"
		}
		line += "\t"
		for _, v := range row.Idle {
			line += formatOptional(float64(v), "%.0f") + "\t"
		}
		if aq >= 0 {
			for i, v := range row.Idle {
				if i != aq {
					line += formatOptional(float64(row.Idle[aq])/float64(v), "%.3f") + "\t"
				}
			}
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write pre-warm frontier: %w", err)
	}
	fmt.Fprintln(w)
	for _, v := range r.Versus {
		verdict := "not below everywhere"
		if math.IsNaN(float64(v.WorstRatio)) {
			verdict = "not compared: " + v.Family + " reaches none of those rates"
		}
		if v.Below {
			verdict = "below everywhere"
		}
		fmt.Fprintf(w, "aquatope against %s from %.1f%% to %.0f%% cold: worst ratio of idle %s at %.3f%% cold: %s\n",
			v.Family, 100*RangeLow, 100*RangeHigh, formatOptional(float64(v.WorstRatio), "%.3f"), 100*v.WorstAt, verdict)
	}
	if r.Reference != nil && len(r.Comparison) > 0 {
		ref := r.Reference.IdleSandboxSeconds
		for i, f := range r.Frontiers {
			if f.Family == "keepalive" {
				continue
			}
			fmt.Fprintf(w, "%s at %s's cold-start rate (%.3f%%): %s × its idle sandbox-seconds\n",
				f.Family, r.Reference.Policy, 100*r.Reference.ColdStartRate, formatOptional(float64(r.Comparison[0].Idle[i])/ref, "%.3f"))
		}
	}
	return nil
}

// formatOptional formats v, or - when it is not a number or infinite.
func formatOptional(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// frontierColors are the plot's colours, one per frontier in turn.
func frontierColors() []string {
	return []string{"#1f77b4", "#7f7f7f", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd"}
}

// WriteSVG draws the frontiers as an SVG line plot: cold-start rate (log
// scale) across, idle sandbox-seconds up; each policy's efficient points
// joined by a line and labelled with its parameter, the other points
// hollow; keepalive-10m's cold-start rate and 0.8× its idle dashed.
func (r *FrontierReport) WriteSVG(w io.Writer) error {
	const (
		width, height            = 1000.0, 600.0
		left, right, top, bottom = 90.0, 230.0, 50.0, 60.0
	)
	minC, maxC, maxI := math.Inf(1), 0.0, 0.0
	for _, f := range r.Frontiers {
		for _, p := range f.Points {
			if p.ColdStartRate > 0 {
				minC = math.Min(minC, p.ColdStartRate)
			}
			maxC = math.Max(maxC, p.ColdStartRate)
			maxI = math.Max(maxI, p.IdleSandboxSeconds)
		}
	}
	if maxC <= 0 || maxI <= 0 {
		return fmt.Errorf("write pre-warm frontier plot: no point with cold starts and idle time to draw")
	}
	lo, hi := math.Floor(math.Log10(minC)), math.Ceil(math.Log10(maxC))
	if hi <= lo {
		hi = lo + 1
	}
	yMax := niceCeil(maxI * 1.05)
	pw, ph := width-left-right, height-top-bottom
	x := func(c float64) float64 { // a zero rate on the left edge
		if c <= 0 {
			return left
		}
		return left + (math.Log10(c)-lo)/(hi-lo)*pw
	}
	y := func(idle float64) float64 { return top + ph - idle/yMax*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="24" font-size="15">%s</text>`+"\n", left, html.EscapeString(fmt.Sprintf("Pre-warm frontiers: %s (%d functions, %d invocations)", r.Trace, r.Functions, r.Invocations)))
	// Grid and axes: decades and 2, 5 between across; five steps up.
	for d := lo; d <= hi; d++ {
		for _, m := range []float64{1, 2, 5} {
			c := m * math.Pow(10, d)
			if math.Log10(c) > hi+1e-9 {
				break
			}
			stroke := "#eeeeee"
			if m == 1 {
				stroke = "#cccccc"
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x(c), top, x(c), top+ph, stroke)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s%%</text>`+"\n", x(c), top+ph+18, formatPercent(100*c))
		}
	}
	for k := 0; k <= 5; k++ {
		v := yMax * float64(k) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", left, y(v), left+pw, y(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%sM</text>`+"\n", left-8, y(v)+4, formatMillions(v))
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="black"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">cold-start rate (log scale)</text>`+"\n", left+pw/2, height-18)
	fmt.Fprintf(&b, `<text transform="translate(22 %.1f) rotate(-90)" text-anchor="middle">idle sandbox-seconds</text>`+"\n", top+ph/2)
	if ref := r.Reference; ref != nil {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="4 4"/>`+"\n", x(ref.ColdStartRate), top, x(ref.ColdStartRate), top+ph)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="4 4"/>`+"\n", left, y(0.8*ref.IdleSandboxSeconds), left+pw, y(0.8*ref.IdleSandboxSeconds))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">0.8 × %s</text>`+"\n", left+4, y(0.8*ref.IdleSandboxSeconds)-4, ref.Policy)
	}
	colors := frontierColors()
	for i, f := range r.Frontiers {
		color := colors[i%len(colors)]
		var path []string
		for _, p := range f.Efficient() {
			path = append(path, fmt.Sprintf("%.1f,%.1f", x(p.ColdStartRate), y(p.IdleSandboxSeconds)))
		}
		if len(path) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(path, " "), color)
		}
		for _, p := range f.Points {
			fill := color
			if !p.Efficient {
				fill = "white"
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="%s"><title>%s</title></circle>`+"\n",
				x(p.ColdStartRate), y(p.IdleSandboxSeconds), fill, color,
				html.EscapeString(fmt.Sprintf("%s: %.3f%% cold, %.0f idle sandbox-s", p.Policy, 100*p.ColdStartRate, p.IdleSandboxSeconds)))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" fill="%s">%s</text>`+"\n", x(p.ColdStartRate)+5, y(p.IdleSandboxSeconds)-5, color, html.EscapeString(p.Label))
		}
		ly := top + 10 + 34*float64(i)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", left+pw+14, ly, left+pw+38, ly, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+pw+44, ly+4, html.EscapeString(f.Family))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" fill="#555555">%s</text>`+"\n", left+pw+44, ly+17, html.EscapeString(f.Parameter))
	}
	b.WriteString("</svg>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write pre-warm frontier plot: %w", err)
	}
	return nil
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// formatPercent writes a percentage of the axis without trailing zeros.
func formatPercent(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}

// formatMillions writes v in millions without trailing zeros.
func formatMillions(v float64) string { return formatPercent(v / 1e6) }

package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler/stats"
)

// seriesTable prints `baton report --series`: a line per bucket.
type seriesTable struct{ *api.Series }

func (s seriesTable) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s, window %s .. %s in steps of %s\n", s.Workflow, s.Since.Local().Format(time.DateTime), s.Until.Local().Format(time.DateTime),
		time.Duration(s.StepSeconds*float64(time.Second)))
	if s.History == "off" {
		fmt.Fprintln(w, s.Message)
		return nil
	}
	warnDropped(w, s.Dropped)
	qosHeader := "QOS\tVIOLATIONS"
	if s.QoS != nil {
		fmt.Fprintf(w, "QoS: p%g <= %g ms\n", s.QoS.Percentile, s.QoS.TargetMs)
		qosHeader = fmt.Sprintf("P%g(ms)\tVIOLATIONS", s.QoS.Percentile)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "START\tINVOCATIONS\tERRORS\tP50(ms)\tP99(ms)\t%s\tCOST/INV EXEC($)\tCOST/INV IDLE($)\tCOLD STARTS\n", qosHeader)
	for _, b := range s.Buckets {
		p50, p99 := "-", "-"
		if b.LatencyMs != nil {
			p50, p99 = seriesMs(b.LatencyMs.P50), seriesMs(b.LatencyMs.P99)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Start.Local().Format(time.DateTime), b.Invocations, b.Errors, p50, p99,
			windowMs(b.QoSMs), percent(b.ViolationRate), dollars(b.Cost.ExecutionPerInvocation), dollars(b.Cost.IdlePerInvocation), percent(b.ColdStartRate))
	}
	return tw.Flush()
}

// seriesMs is a percentile in a table cell: "failed" when its rank falls
// on a failed invocation.
func seriesMs(m stats.Ms) string {
	if math.IsInf(float64(m), 1) {
		return "failed"
	}
	return fmt.Sprintf("%.1f", float64(m))
}

// windowMs is seriesMs of a figure that may be absent ("-").
func windowMs(m *stats.Ms) string {
	if m == nil {
		return "-"
	}
	return seriesMs(*m)
}

// warnDropped warns, above a table of history's figures, of the records
// the orchestrator dropped (none: nothing).
func warnDropped(w io.Writer, dropped uint64) {
	if dropped > 0 {
		fmt.Fprintf(w, "WARNING: %d history records were dropped (buffer full while Postgres was down); figures miss them\n", dropped)
	}
}

func percent(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**p)
}

func dollars(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.8f", *p)
}

package prewarmsim

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return writeJSON(w, r, "pre-warm report") }

// writeJSON writes v, a report named what, as indented JSON.
func writeJSON(w io.Writer, v any, what string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

// WriteTable writes the report as a table, one policy a row.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "trace: %s — %d functions, %d minutes, %d invocations; workflows %v × %d instances in all\n",
		r.Trace, r.Functions, r.Minutes, r.Invocations, r.Workflows, r.Instances)
	for i, m := range r.StageModels {
		fmt.Fprintf(w, "stage times of %s: %s\n", r.Workflows[i], m)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POLICY\tREQUESTS\tCOLD%\tQUEUED% (MEAN MS)\tIDLE SANDBOX-S\tCREATED\tWF INVOC.\tQOS VIOL%\tWF P99 MS\tCOLD-ARRIVAL P99 MS\tUS/DECISION\tSIM S\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f (%.0f)\t%.0f\t%d\t%d\t%.2f\t%.0f\t%.0f\t%.2f\t%.1f\t\n",
			x.Policy, x.Requests, 100*x.ColdStartRate, 100*float64(x.Queued)/float64(max(x.Requests, 1)), x.MeanQueueWaitMs, x.IdleSandboxSeconds, x.SandboxesCreated,
			x.WorkflowInvocations, 100*x.QoSViolationRate, x.WorkflowP99Ms, x.ColdArrivalP99Ms,
			x.PolicyMicrosPerDecision, x.WallSeconds)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write pre-warm report: %w", err)
	}
	fmt.Fprintln(w, "\nper workflow: cold-arrival p99 ms (cold arrivals) / p99 ms / QoS violations %")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "POLICY\t"
	if len(r.Results) > 0 {
		for _, x := range r.Results[0].PerWorkflow {
			header += fmt.Sprintf("%s (%d STAGES)\t", x.Workflow, x.Stages)
		}
	}
	fmt.Fprintln(tw, header)
	for _, x := range r.Results {
		row := x.Policy + "\t"
		for _, wr := range x.PerWorkflow {
			row += fmt.Sprintf("%.0f (%d) / %.0f / %.2f\t", wr.ColdArrivalP99Ms, wr.ColdArrivals, wr.P99Ms, 100*wr.QoSViolationRate)
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write pre-warm report: %w", err)
	}
	fmt.Fprintln(w, "\nper class of function (trace functions by calls a day; the workflow instances apart): cold % / idle sandbox-s (share of the policy's idle)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header = "POLICY\t"
	if len(r.Results) > 0 {
		for _, c := range r.Results[0].PerClass {
			header += fmt.Sprintf("%s (%d)\t", strings.ToUpper(c.Class), c.Groups)
		}
	}
	fmt.Fprintln(tw, header)
	for _, x := range r.Results {
		row := x.Policy + "\t"
		for _, c := range x.PerClass {
			row += fmt.Sprintf("%.3f / %.1fM (%.0f%%)\t", 100*c.ColdStartRate, c.IdleSandboxSeconds/1e6, 100*c.IdleShare)
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write pre-warm report: %w", err)
	}
	return r.writeQoSTable(w)
}

package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable writes the report as a readable table.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "workflow %s: p%g ≤ %gms, %d stages, %d knobs, budget %d evaluations × %d invocations, %d seeds, validation %d windows × %d\n",
		r.Workflow, r.Percentile, r.TargetMs, r.Stages, r.Knobs, r.Budget, r.EvalInvocations, r.Seeds, r.Windows, r.WindowSize)
	fmt.Fprintf(w, "profile: %s\n", r.ProfileSource)
	fmt.Fprintf(w, "oracle cost $%.4g per 1k invocations, static-max $%.4g\n\n", r.OracleCostUSD*1000, r.StaticMaxUSD*1000)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POLICY\tEVALS\t$/1k INV\tVS ORACLE\tVS STATIC-MAX\tEXPLORE VIOL\tVALID VIOL\tTRUE P-LAT ms\tDECISION ms\t")
	for _, p := range r.Results {
		fmt.Fprintf(tw, "%s\t%.1f\t%.4f\t%+.1f%%\t%+.1f%%\t%.1f%%\t%.1f%%\t%.0f\t%.2f\t\n",
			p.Policy, p.Evaluations, p.CostUSD*1000, (p.CostVsOracle-1)*100, -p.SavingVsStaticMax*100,
			p.ExploreViolationRate*100, p.ValidationViolationRate*100, p.TrueLatencyMs, p.DecisionMs)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

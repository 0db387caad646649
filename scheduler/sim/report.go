package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"baton.dev/baton/scheduler"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	return writeJSON(w, r)
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable writes the report as a readable table.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "workflow %s: p%g ≤ %gms, %d stages, %d knobs, budget %d evaluations × %d invocations, %d seeds, validation %d windows × %d\n",
		r.Workflow, r.Percentile, r.TargetMs, r.Stages, r.Knobs, r.Budget, r.EvalInvocations, r.Seeds, r.Windows, r.WindowSize)
	if r.TargetWhy != "" {
		fmt.Fprintf(w, "target: %s\n", r.TargetWhy)
	}
	fmt.Fprintf(w, "profile: %s\n", r.ProfileSource)
	fmt.Fprintf(w, "oracle cost $%.4g per 1k invocations, window-safe oracle (≤ %g%% of windows missed) $%.4g, static-max $%.4g\n\n",
		r.OracleCostUSD*1000, r.WindowMissRate*100, r.WindowSafeOracleCostUSD*1000, r.StaticMaxUSD*1000)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POLICY\tEVALS\t$/1k INV\tVS ORACLE\tVS SAFE ORACLE\tVS STATIC-MAX\tEXPLORE VIOL\tVALID VIOL\tTRUE P-LAT ms\tDECISION ms\t")
	for _, p := range r.Results {
		fmt.Fprintf(tw, "%s\t%.1f\t%.4f\t%+.1f%%\t%+.1f%%\t%+.1f%%\t%.1f%%\t%.2f%%\t%.0f\t%.2f\t\n",
			p.Policy, p.Evaluations, p.CostUSD*1000, (p.CostVsOracle-1)*100, (p.CostVsWindowSafeOracle-1)*100, -p.SavingVsStaticMax*100,
			p.ExploreViolationRate*100, p.ValidationViolationRate*100, p.TrueLatencyMs, p.DecisionMs)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if r.Prewarm != nil {
		return r.Prewarm.writeTable(w, r.TargetMs, r.Percentile)
	}
	return nil
}

// The targets of issue 22 for the resource configurator, where the QoS binds.
const (
	maxCostVsWindowSafeOracle  = 1.10
	maxValidationViolations    = 0.01
	maxViolationsVsCherryPick  = 0.2
	minSavingVsStaticMaxTarget = 0.34
)

// Verdict is how a policy fares on one sample against the targets: cost
// at most 1.10× the window-safe oracle's, validation windows missed at
// most 1% and at most 1/5 of CherryPick's, at least 34% cheaper than
// static-max.
type Verdict struct {
	Workflow                string  `json:"workflow"`
	Policy                  string  `json:"policy"`
	TargetMs                float64 `json:"targetMs"`
	CostVsWindowSafeOracle  float64 `json:"costVsWindowSafeOracle"`
	ValidationViolationRate float64 `json:"validationViolationRate"`
	CherryPickViolationRate float64 `json:"cherryPickViolationRate"`
	SavingVsStaticMax       float64 `json:"savingVsStaticMax"`
	Met                     bool    `json:"met"`
}

// Judge returns policy's verdict on r; ok is false when r lacks policy or
// CherryPick.
func (r *Report) Judge(policy string) (Verdict, bool) {
	var p, cp *PolicyResult
	for i := range r.Results {
		switch r.Results[i].Policy {
		case policy:
			p = &r.Results[i]
		case scheduler.PolicyCherryPick:
			cp = &r.Results[i]
		}
	}
	if policy == scheduler.PolicyCherryPick {
		cp = p
	}
	if p == nil || cp == nil {
		return Verdict{}, false
	}
	v := Verdict{Workflow: r.Workflow, Policy: policy, TargetMs: r.TargetMs,
		CostVsWindowSafeOracle: p.CostVsWindowSafeOracle, ValidationViolationRate: p.ValidationViolationRate,
		CherryPickViolationRate: cp.ValidationViolationRate, SavingVsStaticMax: p.SavingVsStaticMax}
	v.Met = v.CostVsWindowSafeOracle <= maxCostVsWindowSafeOracle &&
		v.ValidationViolationRate <= maxValidationViolations &&
		v.ValidationViolationRate <= maxViolationsVsCherryPick*v.CherryPickViolationRate+1e-12 &&
		v.SavingVsStaticMax >= minSavingVsStaticMaxTarget
	return v, true
}

// WriteVerdicts writes the verdicts as a table, one row a sample.
func WriteVerdicts(w io.Writer, vs []Verdict) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "WORKFLOW\tPOLICY\tTARGET ms\tVS SAFE ORACLE (≤ %.2fx)\tVALID VIOL (≤ %g%%)\tCHERRYPICK VIOL\tVS CHERRYPICK (≤ %.2fx)\tSAVING VS STATIC-MAX (≥ %g%%)\tMET\t\n",
		maxCostVsWindowSafeOracle, maxValidationViolations*100, maxViolationsVsCherryPick, minSavingVsStaticMaxTarget*100)
	for _, v := range vs {
		vsCP := "-"
		if v.CherryPickViolationRate > 0 {
			vsCP = fmt.Sprintf("%.2fx", v.ValidationViolationRate/v.CherryPickViolationRate)
		}
		met := "no"
		if v.Met {
			met = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.3fx\t%.2f%%\t%.2f%%\t%s\t%.1f%%\t%s\t\n", v.Workflow, v.Policy, v.TargetMs,
			v.CostVsWindowSafeOracle, v.ValidationViolationRate*100, v.CherryPickViolationRate*100, vsCP, v.SavingVsStaticMax*100, met)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write verdicts: %w", err)
	}
	return nil
}

// WriteJSONAll writes reports and their verdicts as one indented JSON object.
func WriteJSONAll(w io.Writer, reports []*Report, verdicts []Verdict) error {
	return writeJSON(w, struct {
		Reports  []*Report `json:"reports"`
		Verdicts []Verdict `json:"verdicts"`
	}{reports, verdicts})
}

package prewarmsim

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
)

// QoSPlanSummary is a workflow's QoS-aware pre-warm decision
// (prewarm.PlanQoS) as the report shows it.
type QoSPlanSummary struct {
	Workflow   string  `json:"workflow"`
	QoSMs      float64 `json:"qosMs"`
	Percentile float64 `json:"percentile"`
	// WarmMs and WarmViolationRate are the plan's estimates of the warm
	// latency at the percentile and of the warm bound (the report's
	// WorkflowResult.WarmViolationRate measures the bound on the
	// simulated invocations); SlackMs is the QoS less WarmMs.
	WarmMs            float64 `json:"warmMs"`
	WarmViolationRate float64 `json:"warmViolationRate"`
	SlackMs           float64 `json:"slackMs"`
	Attainable        bool    `json:"attainable"`
	// Budget is the share of invocations cold starts may push past the QoS.
	Budget float64 `json:"budget"`
	// ColdArrivalViolationRate is the plan's estimate of the violations
	// among invocations arriving to a cold workflow, under its chain
	// warming.
	ColdArrivalViolationRate float64 `json:"coldArrivalViolationRate"`
	// AllowedColdArrivals is the share of invocations that may arrive
	// cold (to the idle windows: see prewarm.FunctionQoS; 0: none planned
	// for, the settings rule).
	AllowedColdArrivals float64 `json:"allowedColdArrivals"`
	// ChainWarmed names the stages chain-warmed.
	ChainWarmed []string          `json:"chainWarmed"`
	Functions   []FunctionQoSPlan `json:"functions"`
}

// FunctionQoSPlan is one function's settings in a QoSPlanSummary.
type FunctionQoSPlan struct {
	Function          string  `json:"function"`
	ColdViolationRate float64 `json:"coldViolationRate"`
	// Cost is the violations a cold start adds over the budget, "+Inf"
	// when it adds some with no budget.
	Cost             string  `json:"cost"`
	ColdStartCostSec float64 `json:"coldStartCostSec"`
	KeepAliveSec     float64 `json:"keepAliveSec"`
	Quantile         float64 `json:"quantile"`
	Concurrency      float64 `json:"concurrencyQuantile"`
	// AllowedCold is the share of its calls that may find no warm
	// sandbox (0: none planned for, the settings above rule).
	AllowedCold float64 `json:"allowedCold"`
}

// summarisePlans returns the QoS plans of the groups' workflows, one per
// workflow, in the order of first appearance.
func summarisePlans(groups []groupSpec) []QoSPlanSummary {
	var out []QoSPlanSummary
	seen := map[string]bool{}
	for _, g := range groups {
		if g.wf == nil || g.wf.plan == nil || seen[g.wf.name] {
			continue
		}
		seen[g.wf.name] = true
		p := g.wf.plan
		s := QoSPlanSummary{
			Workflow: p.Workflow, QoSMs: ms(g.wf.shape.Latency.Seconds()), Percentile: g.wf.shape.Percentile,
			WarmMs: ms(p.WarmLatency.Seconds()), WarmViolationRate: p.WarmViolationRate, SlackMs: ms(p.Slack.Seconds()),
			Attainable: p.Attainable, Budget: p.Budget, ColdArrivalViolationRate: p.ColdArrivalViolationRate,
		}
		for i, chained := range p.ChainWarm {
			if chained {
				s.ChainWarmed = append(s.ChainWarmed, g.wf.stages[i].name)
			}
		}
		for _, f := range p.Functions {
			s.AllowedColdArrivals = max(s.AllowedColdArrivals, f.AllowedColdArrivals)
			s.Functions = append(s.Functions, FunctionQoSPlan{
				Function: f.Function, ColdViolationRate: f.ColdViolationRate, Cost: strconv.FormatFloat(f.Cost, 'g', 3, 64),
				ColdStartCostSec: f.ColdStartCost.Seconds(), KeepAliveSec: f.KeepAlive.Seconds(), Quantile: f.Quantile, Concurrency: f.Concurrency,
				AllowedCold: f.AllowedCold,
			})
		}
		out = append(out, s)
	}
	return out
}

func ms(seconds float64) float64 { return math.Round(seconds * 1000) }

// compareWorkflows sets each result's per-workflow idle against
// keepalive-10m's and whether it meets the QoS-aware target.
func compareWorkflows(results []Result) {
	base := map[string]float64{}
	for _, res := range results {
		if res.Policy == baselinePolicy {
			for _, w := range res.PerWorkflow {
				base[w.Workflow] = w.IdleSandboxSeconds
			}
		}
	}
	for k := range results {
		for i := range results[k].PerWorkflow {
			w := &results[k].PerWorkflow[i]
			if b, ok := base[w.Workflow]; ok && b > 0 {
				w.IdleToKeepalive10m = w.IdleSandboxSeconds / b
				w.MeetsTarget = w.MeetsQoS && w.IdleToKeepalive10m <= QoSTargetIdleRatio
			}
		}
	}
}

// writeQoSTable writes, per workflow, each policy's QoS violations
// against the warm bound, idle and cost against keepalive-10m's, and the
// workflows' QoS plans.
func (r *Report) writeQoSTable(w io.Writer) error {
	if len(r.Results) == 0 || len(r.Results[0].PerWorkflow) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nper workflow against its QoS: violations (allowed: 1 - percentile; warm bound: with every sandbox warm and free), idle of its functions' sandboxes and cost (idle + execution, USD) against %s's, and the sandbox-time spent starting (outside the cost model); target: violations within the allowed and idle at most %.1fx %s's\n",
		baselinePolicy, QoSTargetIdleRatio, baselinePolicy)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "WORKFLOW\tPOLICY\tQOS VIOL%\tALLOWED%\tWARM BOUND%\tIDLE SANDBOX-S\tIDLE / "+baselinePolicy+"\tIDLE USD\tCOST USD\tSTART-UP SANDBOX-S\tTARGET\t")
	for i, wr := range r.Results[0].PerWorkflow {
		for _, x := range r.Results {
			if i >= len(x.PerWorkflow) {
				continue
			}
			v := x.PerWorkflow[i]
			target := "no"
			switch {
			case v.MeetsTarget:
				target = "met"
			case v.IdleToKeepalive10m == 0:
				target = "-"
			case v.MeetsQoS:
				target = "no: idle"
			case v.WarmViolationRate > v.AllowedViolationRate:
				target = "no: bound"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.1f\t%.3f\t%.0f\t%.2f\t%.4f\t%.4f\t%.0f\t%s\t\n", wr.Workflow, x.Policy, 100*v.QoSViolationRate, 100*v.AllowedViolationRate,
				100*v.WarmViolationRate, v.IdleSandboxSeconds, v.IdleToKeepalive10m, v.IdleUSD, v.CostUSD, v.StartupSandboxSeconds, target)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write pre-warm report: %w", err)
	}
	if len(r.QoSPlans) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nQoS-aware plans (aquatope-qos): warm latency at the percentile, slack, budget of violations for cold starts, violations of cold arrivals and the share of invocations allowed to arrive cold; per function: cost of a cold start over the budget -> cold-start cost / keep-alive / arrival quantile / in-flight quantile, and the share of its calls allowed to find no warm sandbox (the planner keeps the least idle that meets it by its own history; 0: none, the settings rule)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range r.QoSPlans {
		fmt.Fprintf(tw, "%s\tQoS %.0f ms at p%g\twarm %.0f ms (bound %.2f%%)\tslack %.0f ms\tbudget %.2f%%\tattainable %v\tcold arrival %.2f%% (allowed %.3g%%)\tchain-warmed %v\t\n",
			p.Workflow, p.QoSMs, p.Percentile, p.WarmMs, 100*p.WarmViolationRate, p.SlackMs, 100*p.Budget, p.Attainable, 100*p.ColdArrivalViolationRate, 100*p.AllowedColdArrivals, p.ChainWarmed)
		for _, f := range p.Functions {
			fmt.Fprintf(tw, "\t%s\tcost %s\t%gs / %gs / q%g / c%g\tallowed cold %.3g%%\t\n", f.Function, f.Cost, f.ColdStartCostSec, f.KeepAliveSec, f.Quantile, f.Concurrency, 100*f.AllowedCold)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write pre-warm report: %w", err)
	}
	return nil
}

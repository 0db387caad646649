package sim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"baton.dev/baton/scheduler"
)

// The modes of a pre-warmed comparison: resources chosen for execution
// cost alone, then the pre-warm plan made at them, or both chosen together.
const (
	ModeTwoStep  = "two-step"
	ModeTogether = "together"
)

// PrewarmReport compares the policies' choices pre-warmed at an arrival
// rate (TuneOptions.ArrivalsPerMinute).
type PrewarmReport struct {
	ArrivalsPerMinute float64         `json:"arrivalsPerMinute"`
	Results           []PrewarmResult `json:"results"`
	// Choices are seed 1's choices and the pre-warm settings they imply.
	Choices []PrewarmChoice `json:"choices"`
}

// PrewarmResult is one policy's means over its seeds in one mode.
type PrewarmResult struct {
	Policy string `json:"policy"`
	Mode   string `json:"mode"`
	Seeds  int    `json:"seeds"`
	// ExecUSD, IdleUSD and TotalUSD are the mean costs per invocation of
	// the choice: execution, idle and start-up, and both; IdleShare is
	// IdleUSD / TotalUSD.
	ExecUSD   float64 `json:"execUSD"`
	IdleUSD   float64 `json:"idleUSD"`
	TotalUSD  float64 `json:"totalUSD"`
	IdleShare float64 `json:"idleShare"`
	// ExpectedViolationRate is the mean share of invocations the estimate
	// (prewarm.IdleCost) expects past the QoS, Feasible the share of seeds
	// whose choice it calls feasible.
	ExpectedViolationRate float64 `json:"expectedViolationRate"`
	Feasible              float64 `json:"feasible"`
	// ValidationViolationRate is the share of validation windows, with the
	// plan's cold starts, whose percentile missed the target;
	// WarmValidationViolationRate the share with every sandbox warm.
	ValidationViolationRate     float64 `json:"validationViolationRate"`
	WarmValidationViolationRate float64 `json:"warmValidationViolationRate"`
}

// PrewarmChoice is one choice and its pre-warm plan.
type PrewarmChoice struct {
	Policy    string           `json:"policy"`
	Mode      string           `json:"mode"`
	Seed      uint64           `json:"seed"`
	ExecUSD   float64          `json:"execUSD"`
	IdleUSD   float64          `json:"idleUSD"`
	Functions []PrewarmSetting `json:"functions"`
	// ChainWarmed names the stages chain warming starts ahead.
	ChainWarmed []string `json:"chainWarmed"`
}

// PrewarmSetting is one function's resources and pre-warm settings.
type PrewarmSetting struct {
	Function  string `json:"function"`
	CPUMilli  int64  `json:"cpuMilli"`
	MemoryMiB int64  `json:"memoryMiB"`
	// KeepSec is how long its first sandbox stays after a call,
	// KeepAliveSec the others, Quantile the arrival quantile its floor
	// covers, Floor the floor at the rate, ColdStartCostSec the price of
	// a cold start in idle sandbox-seconds.
	KeepSec          float64 `json:"keepSec"`
	KeepAliveSec     float64 `json:"keepAliveSec"`
	Quantile         float64 `json:"quantile"`
	Floor            int     `json:"floor"`
	ColdStartCostSec float64 `json:"coldStartCostSec"`
	// ColdProbability is the chance an invocation finds it cold;
	// IdleSeconds its idle sandbox-seconds per invocation.
	ColdProbability float64 `json:"coldProbability"`
	IdleSeconds     float64 `json:"idleSeconds"`
}

// modeOf names a run's mode.
func modeOf(run Run) string {
	if run.Together {
		return ModeTogether
	}
	return ModeTwoStep
}

// summarisePrewarm averages the runs' pre-warmed choices per policy and
// mode, in the policies' order, two-step first.
func summarisePrewarm(runs []Run, opts TuneOptions) *PrewarmReport {
	rep := &PrewarmReport{ArrivalsPerMinute: opts.ArrivalsPerMinute}
	for _, name := range opts.Policies {
		for _, mode := range []string{ModeTwoStep, ModeTogether} {
			r := PrewarmResult{Policy: name, Mode: mode}
			var windows, missed, warmMissed int
			for _, run := range runs {
				if run.Policy != name || modeOf(run) != mode || run.Prewarm == nil {
					continue
				}
				r.Seeds++
				r.ExecUSD += run.Prewarm.ExecUSD
				r.IdleUSD += run.Prewarm.IdleUSD
				r.ExpectedViolationRate += run.Prewarm.Idle.ViolationRate
				if run.Prewarm.Idle.Feasible {
					r.Feasible++
				}
				windows += opts.Windows
				missed += run.PrewarmWindowViolations
				warmMissed += run.WindowViolations
				if run.Seed == 1 {
					rep.Choices = append(rep.Choices, choiceOf(run))
				}
			}
			if r.Seeds == 0 {
				continue
			}
			n := float64(r.Seeds)
			r.ExecUSD /= n
			r.IdleUSD /= n
			r.ExpectedViolationRate /= n
			r.Feasible /= n
			r.TotalUSD = r.ExecUSD + r.IdleUSD
			r.IdleShare = r.IdleUSD / r.TotalUSD
			r.ValidationViolationRate = float64(missed) / float64(windows)
			r.WarmValidationViolationRate = float64(warmMissed) / float64(windows)
			rep.Results = append(rep.Results, r)
		}
	}
	return rep
}

// choiceOf describes a run's choice and its plan.
func choiceOf(run Run) PrewarmChoice {
	pc := run.Prewarm
	ch := PrewarmChoice{Policy: run.Policy, Mode: modeOf(run), Seed: run.Seed, ExecUSD: pc.ExecUSD, IdleUSD: pc.IdleUSD}
	for i, f := range pc.Idle.Functions {
		q := pc.Plan.Functions[i]
		set := run.Chosen[f.Function]
		ch.Functions = append(ch.Functions, PrewarmSetting{
			Function: f.Function, CPUMilli: set.CPUMilli, MemoryMiB: set.MemoryBytes / scheduler.MiB,
			KeepSec: f.Keep.Seconds(), KeepAliveSec: f.KeepAlive.Seconds(), Quantile: q.Quantile, Floor: f.Floor,
			ColdStartCostSec: q.ColdStartCost.Seconds(), ColdProbability: f.ColdProbability, IdleSeconds: f.IdleSeconds,
		})
	}
	for i, chained := range pc.Plan.ChainWarm {
		if chained {
			ch.ChainWarmed = append(ch.ChainWarmed, pc.stages[i])
		}
	}
	return ch
}

// writeTable writes the pre-warmed comparison as tables.
func (r *PrewarmReport) writeTable(w io.Writer, targetMs, percentile float64) error {
	fmt.Fprintf(w, "\npre-warmed at %g invocations a minute (Poisson; QoS-aware plan at each choice's resources; violations: validation windows with the plan's cold starts missing p%g ≤ %gms):\n",
		r.ArrivalsPerMinute, percentile, targetMs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POLICY\tMODE\tEXEC $/1k\tIDLE $/1k\tTOTAL $/1k\tIDLE SHARE\tEXPECTED VIOL\tFEASIBLE\tVALID VIOL\tWARM VALID VIOL\t")
	for _, p := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.4f\t%.4f\t%.1f%%\t%.2f%%\t%.0f%%\t%.2f%%\t%.2f%%\t\n", p.Policy, p.Mode,
			p.ExecUSD*1000, p.IdleUSD*1000, p.TotalUSD*1000, p.IdleShare*100, p.ExpectedViolationRate*100, p.Feasible*100,
			p.ValidationViolationRate*100, p.WarmValidationViolationRate*100)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for _, c := range r.Choices {
		if !explores(c.Policy) {
			continue // the same choice either way: its costs are in the table above
		}
		fmt.Fprintf(w, "\n%s %s, seed %d: exec $%.4f + idle $%.4f per 1k invocations; chain-warmed: %s\n", c.Policy, c.Mode, c.Seed,
			c.ExecUSD*1000, c.IdleUSD*1000, orNone(c.ChainWarmed))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "FUNCTION\tCPU m\tMEM Mi\tKEEP s\tKEEP-ALIVE s\tQUANTILE\tFLOOR\tCOLD-START COST s\tP(COLD)\tIDLE s/INV\t")
		for _, f := range c.Functions {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\t%.2f\t%d\t%.0f\t%.3f\t%.2f\t\n", f.Function, f.CPUMilli, f.MemoryMiB,
				f.KeepSec, f.KeepAliveSec, f.Quantile, f.Floor, f.ColdStartCostSec, f.ColdProbability, f.IdleSeconds)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// orNone joins names, or says none.
func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

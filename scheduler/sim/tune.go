package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"baton.dev/baton/scheduler"
	"baton.dev/baton/scheduler/stats"
)

// TuneOptions configure Tune.
type TuneOptions struct {
	// Policies to compare (default: every policy).
	Policies []string
	// Seeds is how many seeds each policy runs (default 20).
	Seeds int
	// Budget caps evaluations (default scheduler.DefaultBudget of the stage count).
	Budget int
	// EvalInvocations is how many invocations one evaluation runs (default 100).
	EvalInvocations int
	// WindowSize is the validation window (default 100 invocations).
	WindowSize int
	// Windows is how many validation windows are run per seed (default 50:
	// a thousand windows over 20 seeds judge a 1% miss rate within about ±0.6%).
	Windows int
	// WindowMissRate is the share of validation windows allowed to miss
	// the target (default 0.01): aquatope and the window-safe oracle
	// choose for it.
	WindowMissRate float64
	// Parallel bounds concurrent runs (default GOMAXPROCS).
	Parallel int
	// ArrivalsPerMinute, when > 0, is the workflow's invocation rate: every
	// choice is then also priced and validated pre-warmed by the QoS plan
	// its configuration implies (Prewarmed), and every policy that
	// explores runs a second time choosing resources and pre-warm settings
	// together, its objective the total cost (execution, idle and
	// start-up) and its latencies those with the plan's cold starts. Zero
	// leaves the pre-warm plan out, as before.
	ArrivalsPerMinute float64
}

func (o TuneOptions) withDefaults() TuneOptions {
	if len(o.Policies) == 0 {
		o.Policies = scheduler.PolicyNames()
	}
	if o.Seeds <= 0 {
		o.Seeds = 20
	}
	if o.EvalInvocations <= 0 {
		o.EvalInvocations = 100
	}
	if o.WindowSize <= 0 {
		o.WindowSize = 100
	}
	if o.Windows <= 0 {
		o.Windows = 50
	}
	if o.WindowMissRate <= 0 {
		o.WindowMissRate = 0.01
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.GOMAXPROCS(0)
	}
	return o
}

// Run is one policy's run with one seed.
type Run struct {
	Policy      string
	Seed        uint64
	Evaluations int
	Chosen      scheduler.Config
	// CostUSD is the chosen configuration's expected cost per invocation.
	CostUSD float64
	// TrueLatencyMs is the chosen configuration's true latency percentile.
	TrueLatencyMs float64
	// ExploreInvocations and ExploreViolations count exploration invocations
	// and those over the latency target.
	ExploreInvocations, ExploreViolations int
	// WindowViolations counts validation windows whose percentile missed.
	WindowViolations int
	// Decisions and DecisionTime are the Suggest and Best calls and their total time.
	Decisions    int
	DecisionTime time.Duration
	// Together says the run chose resources and pre-warm settings
	// together (TuneOptions.ArrivalsPerMinute); it is then left out of
	// the policies' Results, which are the execution-only choices'.
	Together bool
	// Prewarm is the choice's cost under its pre-warm plan and
	// PrewarmWindowViolations the validation windows, with the plan's cold
	// starts, that missed (with an arrival rate only).
	Prewarm                 *PrewarmCost
	PrewarmWindowViolations int
}

// PolicyResult is a policy's means over its seeds.
type PolicyResult struct {
	Policy string `json:"policy"`
	Seeds  int    `json:"seeds"`
	// Evaluations is the mean number of configurations measured.
	Evaluations float64 `json:"evaluations"`
	// CostUSD is the mean expected cost per invocation of the choice.
	CostUSD float64 `json:"costUSD"`
	// CostVsOracle is the mean of cost / oracle cost.
	CostVsOracle float64 `json:"costVsOracle"`
	// CostVsWindowSafeOracle is the mean of cost / window-safe oracle cost.
	CostVsWindowSafeOracle float64 `json:"costVsWindowSafeOracle"`
	// SavingVsStaticMax is 1 − mean cost / static-max cost.
	SavingVsStaticMax float64 `json:"savingVsStaticMax"`
	// ExploreViolationRate is the share of exploration invocations over the target.
	ExploreViolationRate float64 `json:"exploreViolationRate"`
	// ValidationViolationRate is the share of validation windows whose
	// percentile missed the target.
	ValidationViolationRate float64 `json:"validationViolationRate"`
	// TrueLatencyMs is the mean true latency percentile of the choice.
	TrueLatencyMs float64 `json:"trueLatencyMs"`
	// DecisionMs is the mean time of one decision (Suggest or Best).
	DecisionMs float64 `json:"decisionMs"`
}

// Report is the outcome of Tune.
type Report struct {
	Workflow      string  `json:"workflow"`
	ProfileSource string  `json:"profileSource"`
	TargetMs      float64 `json:"targetMs"`
	Percentile    float64 `json:"percentile"`
	// TargetWhy says where the target came from.
	TargetWhy       string  `json:"targetWhy"`
	Stages          int     `json:"stages"`
	Knobs           int     `json:"knobs"`
	Budget          int     `json:"budget"`
	Seeds           int     `json:"seeds"`
	EvalInvocations int     `json:"evalInvocations"`
	WindowSize      int     `json:"windowSize"`
	Windows         int     `json:"windows"`
	WindowMissRate  float64 `json:"windowMissRate"`
	OracleCostUSD   float64 `json:"oracleCostUSD"`
	// WindowSafeOracleCostUSD is the cost of the cheapest grid configuration
	// whose validation windows miss at most WindowMissRate of the time.
	WindowSafeOracleCostUSD float64          `json:"windowSafeOracleCostUSD"`
	StaticMaxUSD            float64          `json:"staticMaxCostUSD"`
	Results                 []PolicyResult   `json:"results"`
	Runs                    []Run            `json:"-"`
	OracleConfig            scheduler.Config `json:"oracleConfig"`
	WindowSafeOracleConfig  scheduler.Config `json:"windowSafeOracleConfig"`
	// Prewarm compares the choices pre-warmed (with an arrival rate only).
	Prewarm *PrewarmReport `json:"prewarm,omitempty"`
}

// Tune runs every policy with every seed on the simulator: explore with the
// policy's suggestions (each evaluation EvalInvocations invocations), take
// its best configuration and validate it over Windows windows of WindowSize
// invocations. Seeds share their random streams across policies (common
// random numbers), so differences come from the policies.
func Tune(ctx context.Context, s *Simulator, space *scheduler.Space, target scheduler.Target, profileSource string, opts TuneOptions) (*Report, error) {
	opts = opts.withDefaults()
	budget := opts.Budget
	if budget <= 0 {
		budget = scheduler.DefaultBudget(s.Stages())
	}
	// The oracles measure nothing and choose the same for every seed:
	// each is searched once.
	oracles := map[string]scheduler.Config{}
	for _, name := range []string{scheduler.PolicyOracle, scheduler.PolicyWindowSafeOracle} {
		p, err := scheduler.NewPolicy(name, space, target, policyOptions(s, 0, budget, opts))
		if err != nil {
			return nil, fmt.Errorf("tune: %w", err)
		}
		if oracles[name], err = p.Best(ctx); err != nil {
			return nil, fmt.Errorf("tune: %s: %w", name, err)
		}
	}
	rep := &Report{
		Workflow: s.workflow, ProfileSource: profileSource,
		TargetMs: target.LatencyMs, Percentile: target.Percentile,
		Stages: s.Stages(), Knobs: space.Dims(), Budget: budget, Seeds: opts.Seeds,
		EvalInvocations: opts.EvalInvocations, WindowSize: opts.WindowSize, Windows: opts.Windows,
		WindowMissRate: opts.WindowMissRate,
		OracleCostUSD:  s.ExpectedCostUSD(oracles[scheduler.PolicyOracle]), StaticMaxUSD: s.ExpectedCostUSD(space.Max()),
		WindowSafeOracleCostUSD: s.ExpectedCostUSD(oracles[scheduler.PolicyWindowSafeOracle]),
		OracleConfig:            oracles[scheduler.PolicyOracle],
		WindowSafeOracleConfig:  oracles[scheduler.PolicyWindowSafeOracle],
	}
	var pw *Prewarmed
	if opts.ArrivalsPerMinute > 0 {
		var err error
		if pw, err = NewPrewarmed(s, space, target, opts.ArrivalsPerMinute); err != nil {
			return nil, fmt.Errorf("tune: %w", err)
		}
	}
	type job struct {
		policy   string
		seed     uint64
		slot     int
		together bool
	}
	var jobs []job
	for _, name := range opts.Policies {
		for seed := 1; seed <= opts.Seeds; seed++ {
			jobs = append(jobs, job{name, uint64(seed), len(jobs), false})
		}
	}
	for _, name := range opts.Policies {
		for seed := 1; seed <= opts.Seeds && pw != nil && explores(name); seed++ {
			jobs = append(jobs, job{name, uint64(seed), len(jobs), true})
		}
	}
	runs := make([]Run, len(jobs))
	errs := make([]error, len(jobs))
	ch := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < opts.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				runs[j.slot], errs[j.slot] = runOne(ctx, s, space, target, j.policy, j.seed, budget, opts, oracles, pw, j.together)
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("tune: %w", err)
	}
	rep.Runs = runs
	for _, name := range opts.Policies {
		rep.Results = append(rep.Results, summariseRuns(name, runs, rep, opts))
	}
	if pw != nil {
		rep.Prewarm = summarisePrewarm(runs, opts)
	}
	return rep, nil
}

// explores says whether policy name measures configurations (and so can
// choose with the pre-warm plan's cost): not the oracles nor the static
// policies, whose choice is the same either way.
func explores(name string) bool {
	switch name {
	case scheduler.PolicyOracle, scheduler.PolicyWindowSafeOracle, scheduler.PolicyStaticMax, scheduler.PolicyStaticDefault:
		return false
	}
	return true
}

// policyOptions are the options every policy of a Tune is built with.
func policyOptions(s *Simulator, seed uint64, budget int, opts TuneOptions) scheduler.PolicyOptions {
	return scheduler.PolicyOptions{Seed: seed, Budget: budget, Stages: s.Stages(), Truth: s,
		WindowSize: opts.WindowSize, WindowMissRate: opts.WindowMissRate, Graph: s.Graph()}
}

// runOne explores with one policy and seed, then validates its choice; an
// oracle's choice, searched once, is taken from oracles. With pw, the
// choice is also priced and validated pre-warmed, and together explores
// pre-warmed: total cost, cold starts included.
func runOne(ctx context.Context, s *Simulator, space *scheduler.Space, target scheduler.Target, name string, seed uint64, budget int, opts TuneOptions, oracles map[string]scheduler.Config, pw *Prewarmed, together bool) (Run, error) {
	var p scheduler.ResourcePolicy
	if c, ok := oracles[name]; ok {
		p = scheduler.Fixed(name, c)
	} else {
		var err error
		if p, err = scheduler.NewPolicy(name, space, target, policyOptions(s, seed, budget, opts)); err != nil {
			return Run{}, err
		}
	}
	run := Run{Policy: name, Seed: seed, Together: together}
	explore := rand.New(rand.NewPCG(seed, 1))
	evaluate := func(c scheduler.Config) (scheduler.Observation, error) {
		if together {
			return pw.Run(c, opts.EvalInvocations, explore)
		}
		return s.Run(c, opts.EvalInvocations, explore), nil
	}
	for run.Evaluations < budget {
		t0 := time.Now()
		c, err := p.Suggest(ctx)
		run.DecisionTime += time.Since(t0)
		run.Decisions++
		if errors.Is(err, scheduler.ErrExplorationDone) {
			break
		}
		if err != nil {
			return Run{}, fmt.Errorf("%s seed %d: suggest: %w", name, seed, err)
		}
		if err := space.Contains(c); err != nil {
			return Run{}, fmt.Errorf("%s seed %d: suggestion outside the space: %w", name, seed, err)
		}
		o, err := evaluate(c)
		if err != nil {
			return Run{}, fmt.Errorf("%s seed %d: %w", name, seed, err)
		}
		for _, l := range o.LatencyMs {
			if l > target.LatencyMs {
				run.ExploreViolations++
			}
		}
		run.ExploreInvocations += len(o.LatencyMs)
		if err := p.Observe(ctx, c, o); err != nil {
			return Run{}, fmt.Errorf("%s seed %d: observe: %w", name, seed, err)
		}
		run.Evaluations++
	}
	t0 := time.Now()
	best, err := p.Best(ctx)
	run.DecisionTime += time.Since(t0)
	run.Decisions++
	if err != nil {
		return Run{}, fmt.Errorf("%s seed %d: best: %w", name, seed, err)
	}
	if err := space.Contains(best); err != nil {
		return Run{}, fmt.Errorf("%s seed %d: best outside the space: %w", name, seed, err)
	}
	run.Chosen = best
	run.CostUSD = s.ExpectedCostUSD(best)
	run.TrueLatencyMs = s.LatencyPercentileMs(best, target.Percentile)
	validate := rand.New(rand.NewPCG(seed, 2))
	for w := 0; w < opts.Windows; w++ {
		if stats.Percentile(s.latencies(best, opts.WindowSize, validate), target.Percentile) > target.LatencyMs {
			run.WindowViolations++
		}
	}
	if pw == nil {
		return run, nil
	}
	if run.Prewarm, err = pw.At(best); err != nil {
		return Run{}, fmt.Errorf("%s seed %d: %w", name, seed, err)
	}
	// The same windows for both choices (common random numbers).
	cold := rand.New(rand.NewPCG(seed, 4))
	for w := 0; w < opts.Windows; w++ {
		o, err := pw.Run(best, opts.WindowSize, cold)
		if err != nil {
			return Run{}, fmt.Errorf("%s seed %d: %w", name, seed, err)
		}
		if stats.Percentile(o.LatencyMs, target.Percentile) > target.LatencyMs {
			run.PrewarmWindowViolations++
		}
	}
	return run, nil
}

// summariseRuns averages one policy's runs.
func summariseRuns(name string, runs []Run, rep *Report, opts TuneOptions) PolicyResult {
	r := PolicyResult{Policy: name}
	var explInv, explViol, windows, winViol, decisions int
	var decTime time.Duration
	for _, run := range runs {
		if run.Policy != name || run.Together {
			continue
		}
		r.Seeds++
		r.Evaluations += float64(run.Evaluations)
		r.CostUSD += run.CostUSD
		r.CostVsOracle += run.CostUSD / rep.OracleCostUSD
		r.CostVsWindowSafeOracle += run.CostUSD / rep.WindowSafeOracleCostUSD
		r.TrueLatencyMs += run.TrueLatencyMs
		explInv += run.ExploreInvocations
		explViol += run.ExploreViolations
		windows += opts.Windows
		winViol += run.WindowViolations
		decisions += run.Decisions
		decTime += run.DecisionTime
	}
	if r.Seeds == 0 {
		return r
	}
	n := float64(r.Seeds)
	r.Evaluations /= n
	r.CostUSD /= n
	r.CostVsOracle /= n
	r.CostVsWindowSafeOracle /= n
	r.TrueLatencyMs /= n
	r.SavingVsStaticMax = 1 - r.CostUSD/rep.StaticMaxUSD
	if explInv > 0 {
		r.ExploreViolationRate = float64(explViol) / float64(explInv)
	}
	r.ValidationViolationRate = float64(winViol) / float64(windows)
	r.DecisionMs = float64(decTime.Microseconds()) / 1000 / float64(decisions)
	if math.IsNaN(r.DecisionMs) {
		r.DecisionMs = 0
	}
	return r
}

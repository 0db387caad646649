package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/dags"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/scheduler/prewarmsim"
	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/scheduler/trace"
	"baton.dev/baton/workflow"
)

// simPrewarmCmd is `baton sim prewarm`: the pre-warm policies side by side
// on a trace, by discrete-event simulation with the real autoscaler.
func simPrewarmCmd() *cobra.Command {
	var traceArg, policies, dagsDir, out, plot, stageModel, qos, cpuProfile string
	var functions, hours, instances int
	var frontier, coarse bool
	var seed uint64
	cmd := &cobra.Command{
		Use:   "prewarm --trace DIR|synthetic",
		Short: "Compare pre-warm policies on an invocation trace by simulation",
		Long: `Simulates every function of a trace (the Azure Functions 2019 or 2021
format read from DIR, or a synthetic trace shaped on it) under each pre-warm
policy, with the orchestrator's real autoscaler deciding creations and
deletions, and the sample workflows invoked as some of the trace's functions.
Per policy it reports the cold-start rate, the idle sandbox-seconds, the
workflows' QoS violations and end-to-end p99, and the policy's time per decision.
Per workflow it reports each policy's QoS violations against the warm bound
(the violations with every sandbox warm and free: what no pre-warm policy
beats), the idle sandbox-seconds and cost of the workflow's functions against
keepalive-10m's, and the QoS-aware plans aquatope-qos runs with. The
workflows' stage times come from their measured profiles (--stage-model).

With --frontier it simulates each policy along its free parameter instead
(keep-alive for keepalive and the oracle, the histogram range for
hybrid-histogram, keep-alive and floor quantile for aquatope), prints each
frontier of cold-start rate against idle sandbox-seconds, reads them at the
same cold-start rates, and draws them as an SVG plot (--plot).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if traceArg == "" {
				return fmt.Errorf("flag --trace is required: a trace directory or synthetic")
			}
			if functions < 0 {
				return fmt.Errorf("flag --functions %d: want ≥ 0 (0: every function of the trace)", functions)
			}
			if hours <= 0 {
				return fmt.Errorf("flag --hours %d: want > 0", hours)
			}
			if instances < 0 {
				return fmt.Errorf("flag --instances %d: want ≥ 0", instances)
			}
			if frontier && cmd.Flags().Changed("policy") {
				return fmt.Errorf("flag --policy: --frontier simulates its own sweep of every policy; leave --policy out")
			}
			if !frontier && (cmd.Flags().Changed("plot") || coarse) {
				return fmt.Errorf("flags --plot and --coarse: they are for the frontiers; add --frontier")
			}
			pols, err := prewarm.Parse(policies)
			if err != nil {
				return fmt.Errorf("flag --policy: %w", err)
			}
			wfs, err := prewarmWorkflows(dagsDir)
			if err != nil {
				return fmt.Errorf("flag --dags: %w", err)
			}
			if err := overrideQoS(wfs, qos); err != nil {
				return fmt.Errorf("flag --qos: %w", err)
			}
			var stageTimes map[string]prewarmsim.StageTimes
			switch stageModel {
			case "profile":
				if stageTimes, err = profileStageTimes(dagsDir, wfs); err != nil {
					return fmt.Errorf("flag --stage-model profile: %w", err)
				}
			case "uniform":
			default:
				return fmt.Errorf("flag --stage-model %q: want profile or uniform", stageModel)
			}
			// The trace last: a synthetic one takes a while to draw, and
			// the flags above are answered without it.
			tr, err := openTrace(traceArg, functions, hours*60, seed)
			if err != nil {
				return err
			}
			// The simulation's live heap is small and its garbage (the
			// autoscaler's plans) plentiful: collect less often, up to a
			// soft limit well under a gigabyte.
			defer debug.SetGCPercent(debug.SetGCPercent(400))
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(512 << 20))
			cfg := prewarmsim.Config{Stream: tr, Workflows: wfs, InstancesPerWorkflow: instances, Seed: seed, StageTimes: stageTimes}
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			if frontier {
				sweeps := prewarm.Sweeps()
				if coarse {
					sweeps = prewarm.CoarseSweeps()
				}
				return runFrontier(cmd, cfg, sweeps, plot, out)
			}
			rep, err := prewarmsim.Run(cmd.Context(), cfg, pols)
			if err != nil {
				return err
			}
			if out == "json" {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&traceArg, "trace", "", "trace directory (Azure Functions 2019 or 2021 format), or synthetic")
	cmd.Flags().StringVar(&policies, "policy", "all", "all, or policy names separated by commas: "+strings.Join(prewarm.Names(), ","))
	cmd.Flags().IntVar(&functions, "functions", 1000, "functions to simulate (a random sample of a real trace; 0 keeps all)")
	cmd.Flags().IntVar(&hours, "hours", 24, "hours of the trace to simulate")
	cmd.Flags().IntVar(&instances, "instances", 10, "instances of each sample workflow, each invoked as one trace function")
	cmd.Flags().StringVar(&dagsDir, "dags", "", "directory of workflow YAML files to run on top (default: the sample workflows)")
	cmd.Flags().StringVar(&stageModel, "stage-model", "profile", "workflow stage times: profile (fitted to each workflow's measured profile, DAGS/profiles/NAME.json, at its functions' fixed or upper-bound resources; the uniform model for a workflow without one) or uniform (200 ms median, sigma 0.3, every stage)")
	cmd.Flags().StringVar(&qos, "qos", "", "latency targets in place of the workflows' own, as NAME=DURATION separated by commas (ml-pipeline=1s,wordcount=260ms); the percentiles stay the workflows'")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the synthetic trace, the sample and the stage durations")
	cmd.Flags().BoolVar(&frontier, "frontier", false, "simulate each policy along its free parameter and report the frontiers of cold starts against idle time")
	cmd.Flags().BoolVar(&coarse, "coarse", false, "with --frontier: four or five points a policy (17 in all, not 28), for long traces")
	cmd.Flags().StringVar(&plot, "plot", "prewarm-frontier.svg", "with --frontier: the SVG file the frontiers are drawn in (- for none)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the simulation (the trace's reading included, its opening not) to this file")
	outputFlag(cmd, &out)
	return cmd
}

// startCPUProfile starts profiling the CPU into the file path (nothing for
// an empty path) and returns the function that stops and closes it.
func startCPUProfile(path string) (func(), error) {
	w, closeFile, err := createCPUProfile(path)
	if err != nil || w == nil {
		return func() {}, err
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		closeFile()
		return nil, fmt.Errorf("flag --cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); closeFile() }, nil
}

// runFrontier runs sweeps on cfg, writes the report to the
// command's output and the plot to the file plot (none for -).
func runFrontier(cmd *cobra.Command, cfg prewarmsim.Config, sweeps []prewarm.Sweep, plot, out string) error {
	rep, err := prewarmsim.RunFrontier(cmd.Context(), cfg, sweeps)
	if err != nil {
		return err
	}
	if plot != "-" {
		f, err := os.Create(plot)
		if err != nil {
			return fmt.Errorf("flag --plot: %w", err)
		}
		if err := rep.WriteSVG(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("flag --plot: %w", err)
		}
	}
	if out == "json" {
		return rep.WriteJSON(cmd.OutOrStdout())
	}
	if err := rep.WriteTable(cmd.OutOrStdout()); err != nil {
		return err
	}
	if plot != "-" {
		fmt.Fprintf(cmd.OutOrStdout(), "\nplot: %s\n", plot)
	}
	return nil
}

// loadTrace reads the --trace flag into memory (see openTrace).
func loadTrace(arg string, functions, minutes int, seed uint64) (*trace.Trace, error) {
	s, err := openTrace(arg, functions, minutes, seed)
	if err != nil {
		return nil, err
	}
	return trace.Collect(s), nil
}

// openTrace opens the --trace flag as a stream: the first minutes of a
// trace directory (a sample of functions of it, 0 for all), or a synthetic
// trace of that many functions.
func openTrace(arg string, functions, minutes int, seed uint64) (trace.Stream, error) {
	var tr trace.Stream
	var err error
	if arg == "synthetic" {
		if functions == 0 {
			return nil, fmt.Errorf("flag --functions: a synthetic trace needs a number of functions > 0")
		}
		tr, err = trace.OpenSynthetic(trace.SyntheticOptions{Functions: functions, Minutes: minutes, Seed: seed})
	} else {
		tr, err = trace.Open(arg, trace.ReadOptions{Minutes: minutes, Functions: functions, Seed: seed})
	}
	if err != nil {
		return nil, fmt.Errorf("flag --trace: %w", err)
	}
	return tr, nil
}

// overrideQoS sets the latency targets list names (NAME=DURATION,…) on
// the workflows of wfs.
func overrideQoS(wfs []*workflow.Workflow, list string) error {
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, value, _ := strings.Cut(item, "=")
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q: want NAME=DURATION with a positive duration, such as wordcount=260ms", item)
		}
		i := slices.IndexFunc(wfs, func(w *workflow.Workflow) bool { return w.Metadata.Name == name })
		if i < 0 {
			return fmt.Errorf("%q: no workflow %s among the simulated ones", item, name)
		}
		if wfs[i].Spec.QoS.Percentile == 0 {
			return fmt.Errorf("%q: workflow %s has no QoS percentile to keep", item, name)
		}
		wfs[i].Spec.QoS.Latency = d
	}
	return nil
}

// profileStageTimes fits the stage times of each workflow of wfs that has
// a profile: dir/profiles/NAME.json, or the built-in sample's when dir is
// empty.
func profileStageTimes(dir string, wfs []*workflow.Workflow) (map[string]prewarmsim.StageTimes, error) {
	out := map[string]prewarmsim.StageTimes{}
	for _, w := range wfs {
		name := w.Metadata.Name
		file := filepath.Join(dir, "profiles", name+".json")
		var data []byte
		if dir == "" {
			var ok bool
			if data, ok = dags.Profile(name); !ok {
				continue
			}
		} else {
			var err error
			if data, err = os.ReadFile(file); errors.Is(err, fs.ErrNotExist) {
				continue
			} else if err != nil {
				return nil, err
			}
		}
		p, err := profile.Parse(file, data)
		if err != nil {
			return nil, err
		}
		if out[name], err = prewarmsim.StageTimesFromProfile(w, p); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return out, nil
}

// prewarmWorkflows parses the workflows of dir (*.yaml), or the built-in
// samples when dir is empty.
func prewarmWorkflows(dir string) ([]*workflow.Workflow, error) {
	type doc struct {
		name string
		data []byte
	}
	var docs []doc
	if dir == "" {
		samples, err := dags.Samples()
		if err != nil {
			return nil, err
		}
		for _, s := range samples {
			docs = append(docs, doc{s.Name + ".yaml", s.YAML})
		}
	} else {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no *.yaml in %s", dir)
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			docs = append(docs, doc{f, data})
		}
	}
	var out []*workflow.Workflow
	for _, d := range docs {
		w, err := workflow.Parse(d.name, d.data)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/scheduler/profile"
	"baton.dev/baton/workflow"
)

func profileCmd() *cobra.Command {
	var gridCPU, gridMem, inputFile, outFile string
	var reps, warmup int
	cmd := &cobra.Command{
		Use:   "profile WORKFLOW.yaml -o FILE",
		Short: "Measure every stage of a workflow over a grid of CPU and memory and write a JSON profile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if outFile == "" {
				return fmt.Errorf("flag -o: name the profile file to write")
			}
			grid, err := parseGrid(gridCPU, gridMem)
			if err != nil {
				return err
			}
			src, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if inputFile == "" {
				inputFile = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".input.json"
			}
			input, err := os.ReadFile(inputFile)
			if err != nil {
				return fmt.Errorf("flag --input: %w", err)
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			now := time.Now()
			p, err := profile.Measure(cmd.Context(), clientInvoker{c}, filepath.Base(args[0]), src, profile.MeasureOptions{
				Grid: grid, Reps: reps, Warmup: warmup, Input: input, Now: now,
				Source: fmt.Sprintf("measured: baton profile against %s, %d reps after %d warm-up, %s", c.URL, reps, warmup, now.UTC().Format(time.RFC3339)),
				Progress: func(done, total int, point string) {
					fmt.Fprintf(cmd.ErrOrStderr(), "[%d/%d] %s measured\n", done, total, point)
				},
			})
			if err != nil {
				return err
			}
			data, err := p.Marshal()
			if err != nil {
				return err
			}
			if err := os.WriteFile(outFile, data, 0o644); err != nil {
				return fmt.Errorf("flag -o: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "profile of %s written to %s (%d stages × %d grid points × %d reps)\n",
				p.Workflow, outFile, len(p.Stages), len(grid.CPUMilli)*len(grid.MemoryMiB), reps)
			return nil
		},
	}
	cmd.Flags().StringVar(&gridCPU, "grid-cpu", "250m,500m,1000m,2000m", "CPU values to measure, comma-separated")
	cmd.Flags().StringVar(&gridMem, "grid-memory", "128Mi,256Mi,512Mi", "memory values to measure, comma-separated")
	cmd.Flags().IntVar(&reps, "reps", 20, "measured invocations per grid point")
	cmd.Flags().IntVar(&warmup, "warmup", 2, "unmeasured warm-up invocations per grid point")
	cmd.Flags().StringVar(&inputFile, "input", "", "workflow input JSON (default WORKFLOW.input.json)")
	cmd.Flags().StringVarP(&outFile, "output", "o", "", "profile file to write")
	return cmd
}

// parseGrid reads --grid-cpu and --grid-memory.
func parseGrid(cpus, mems string) (profile.Grid, error) {
	var g profile.Grid
	for _, s := range strings.Split(cpus, ",") {
		c, err := workflow.ParseCPU(strings.TrimSpace(s))
		if err != nil || c.Auto {
			return g, fmt.Errorf("flag --grid-cpu: %q: want fixed quantities like 250m,1000m", s)
		}
		g.CPUMilli = append(g.CPUMilli, c.Milli)
	}
	for _, s := range strings.Split(mems, ",") {
		m, err := workflow.ParseMemory(strings.TrimSpace(s))
		if err != nil || m.Auto || m.Bytes%(1<<20) != 0 {
			return g, fmt.Errorf("flag --grid-memory: %q: want whole MiB like 128Mi,512Mi", s)
		}
		g.MemoryMiB = append(g.MemoryMiB, m.Bytes>>20)
	}
	return g, nil
}

// clientInvoker measures through the orchestrator's HTTP API.
type clientInvoker struct{ c *client.Client }

func (ci clientInvoker) Deploy(ctx context.Context, filename string, source []byte) error {
	_, err := ci.c.Deploy(ctx, filename, source)
	return err
}

func (ci clientInvoker) Invoke(ctx context.Context, name string, input []byte) (string, error) {
	r, err := ci.c.Invoke(ctx, name, input)
	if err != nil {
		return "", err
	}
	return r.InvocationID, nil
}

func (ci clientInvoker) StageTimings(ctx context.Context, id string) ([]profile.StageTiming, error) {
	inv, err := ci.c.Invocation(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]profile.StageTiming, 0, len(inv.Stages))
	for _, s := range inv.Stages {
		out = append(out, profile.StageTiming{Stage: s.Stage, Calls: s.Calls, ExecMs: s.ExecMs})
	}
	return out, nil
}

func (ci clientInvoker) Delete(ctx context.Context, name string) error {
	return ci.c.DeleteWorkflow(ctx, name)
}

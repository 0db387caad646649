package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/workflow"
)

func deployCmd() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "deploy -f FILE...",
		Short: "Deploy workflows from YAML files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("flag -f: name at least one workflow file")
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("flag -f: %w", err)
				}
				s, err := c.Deploy(cmd.Context(), filepath.Base(f), src)
				if err != nil {
					return fmt.Errorf("deploy %s: %w", f, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "workflow %s deployed (revision %d, %d stages); invoke: baton invoke %s -d @input.json\n", s.Name, s.Revision, len(s.Stages), s.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "workflow YAML file (repeatable)")
	return cmd
}

func validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check workflow files and print every problem as file:line:col",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := false
			for _, f := range args {
				src, err := os.ReadFile(f)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", f, err)
					bad = true
					continue
				}
				if _, err := workflow.Parse(f, src); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					bad = true
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", f)
			}
			if bad {
				return &exitError{code: 1}
			}
			return nil
		},
	}
}

func workflowsCmd() *cobra.Command {
	cmd := readCmd(&cobra.Command{Use: "workflows", Short: "List your workflows", Args: cobra.NoArgs}, apiClient,
		func(ctx context.Context, c *client.Client, _ []string) ([]api.WorkflowSummary, error) {
			return c.Workflows(ctx)
		},
		func(w io.Writer, list []api.WorkflowSummary) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTAGES\tQOS\tREVISION\tDEPLOYED")
			for _, wf := range list {
				qos := "-"
				if wf.QoS != nil {
					qos = fmt.Sprintf("p%g <= %gms", wf.QoS.Percentile, wf.QoS.LatencyMs)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", wf.Name, len(wf.Stages), qos, wf.Revision, wf.Deployed.Local().Format(time.DateTime))
			}
			return tw.Flush()
		})
	cmd.AddCommand(workflowGetCmd(), workflowHistoryCmd())
	cmd.AddCommand(&cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a workflow and its sandboxes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient()
			if err != nil {
				return err
			}
			if err := c.DeleteWorkflow(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "workflow %s deleted\n", args[0])
			return nil
		},
	})
	return cmd
}

// readData reads -d: @FILE, @- for standard input, or the literal text.
func readData(d string) ([]byte, error) {
	switch {
	case d == "@-":
		return io.ReadAll(os.Stdin)
	case strings.HasPrefix(d, "@"):
		b, err := os.ReadFile(d[1:])
		if err != nil {
			return nil, fmt.Errorf("flag -d: %w", err)
		}
		return b, nil
	default:
		return []byte(d), nil
	}
}

func invokeCmd() *cobra.Command {
	var (
		data, out string
		async     bool
	)
	cmd := &cobra.Command{
		Use:   "invoke NAME [-d @input.json]",
		Short: "Invoke a workflow and print its output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			input, err := readData(data)
			if err != nil {
				return err
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			if async {
				id, err := c.InvokeAsync(cmd.Context(), args[0], input)
				if err != nil {
					return err
				}
				if out == "json" {
					return printJSON(cmd.OutOrStdout(), asyncAccepted{InvocationID: id})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "accepted: %s (baton invocations show %s)\n", id, id)
				return nil
			}
			res, err := c.Invoke(cmd.Context(), args[0], input)
			if err != nil {
				return err
			}
			if out == "table" {
				_, err := cmd.OutOrStdout().Write(append(res.Output, '\n'))
				return err
			}
			inv, err := c.Invocation(cmd.Context(), res.InvocationID)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), inv)
		},
	}
	cmd.Flags().StringVarP(&data, "data", "d", "", "input: a literal, @FILE, or @- for standard input")
	cmd.Flags().BoolVar(&async, "async", false, "return at once with the invocation id")
	outputFlag(cmd, &out)
	return cmd
}

func invocationsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "invocations", Short: "Look at invocations"}
	var out string
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one invocation's status and stage timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			inv, err := c.Invocation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(cmd.OutOrStdout(), inv)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s  workflow %s  %s  %.1f ms  %d cold\n", inv.ID, inv.Workflow, inv.Status, inv.LatencyMs, inv.ColdStarts)
			if inv.InputBytes != nil && inv.OutputBytes != nil {
				fmt.Fprintf(w, "input %d bytes, output %d bytes\n", *inv.InputBytes, *inv.OutputBytes)
			}
			if inv.Error != "" {
				fmt.Fprintf(w, "error: %s\n", inv.Error)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STAGE\tSTART(ms)\tQUEUED(ms)\tEXEC(ms)\tCALLS\tSTART")
			for _, s := range inv.Stages {
				temp := "warm"
				if s.Cold {
					temp = "cold"
				}
				fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%d\t%s\n", s.Stage, float64(s.Start.Sub(inv.Start).Microseconds())/1000, s.QueuedMs, s.ExecMs, s.Calls, temp)
			}
			return tw.Flush()
		},
	}
	outputFlag(show, &out)
	var lsOut, wf string
	var limit int
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the latest invocations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(lsOut); err != nil {
				return err
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			list, err := c.Invocations(cmd.Context(), wf, limit)
			if err != nil {
				return err
			}
			if lsOut == "json" {
				return printJSON(cmd.OutOrStdout(), list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWORKFLOW\tSTATUS\tSTART\tLATENCY(ms)\tCOLD\tCOST($)")
			for _, inv := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%.8f\n", inv.ID, inv.Workflow, inv.Status, inv.Start.Local().Format(time.DateTime), inv.LatencyMs, inv.ColdStarts, inv.Cost)
			}
			return tw.Flush()
		},
	}
	outputFlag(ls, &lsOut)
	ls.Flags().StringVar(&wf, "workflow", "", "only this workflow")
	ls.Flags().IntVar(&limit, "limit", 20, "how many (1 to 1000)")
	cmd.AddCommand(ls, show)
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// report is a benchmark's or a command's result that prints as a table.
type report interface{ WriteTable(io.Writer) error }

// printReport prints rep as -o asks: JSON, or its table.
func printReport(w io.Writer, out string, rep report) error {
	if out == "json" {
		return printJSON(w, rep)
	}
	return rep.WriteTable(w)
}

// asyncAccepted is `baton invoke --async -o json`.
type asyncAccepted struct {
	InvocationID string `json:"invocationId"`
}

// workflowGetCmd shows one workflow: its revision, stages and each
// function's image as written and the digest deploy pinned it to.
func workflowGetCmd() *cobra.Command {
	return readCmd(&cobra.Command{
		Use:   "get NAME",
		Short: "Show one workflow, with its images as written and as pinned",
		Args:  cobra.ExactArgs(1),
	}, apiClient, func(ctx context.Context, c *client.Client, args []string) (*api.WorkflowSummary, error) {
		return c.Workflow(ctx, args[0])
	}, func(wo io.Writer, w *api.WorkflowSummary) error {
		fmt.Fprintf(wo, "%s  revision %d, deployed %s\nstages: %s\n\n", w.Name, w.Revision, w.Deployed.Local().Format(time.DateTime), strings.Join(w.Stages, ", "))
		tw := tabwriter.NewWriter(wo, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FUNCTION\tIMAGE\tDIGEST")
		for _, im := range w.Images {
			digest := im.Digest
			if digest == "" {
				digest = "- (local image)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", im.Function, im.Image, digest)
		}
		return tw.Flush()
	})
}

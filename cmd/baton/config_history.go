package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
)

// workflowHistoryCmd is `baton workflows history NAME`: a workflow's
// configuration changes, newest first, with the invocations before and
// after each.
func workflowHistoryCmd() *cobra.Command {
	var window string
	var limit int
	cmd := readCmd(&cobra.Command{
		Use:   "history NAME",
		Short: "Show a workflow's configuration history: each deploy, tuning and choice, resources before and after, latency and cost before and after",
		Args:  cobra.ExactArgs(1),
	}, apiClient, func(ctx context.Context, c *client.Client, args []string) (*api.ConfigurationHistory, error) {
		if window != "" {
			if _, err := api.ParseChangeWindow(window); err != nil {
				return nil, fmt.Errorf("flag --window %w", err)
			}
		}
		if limit != 0 {
			if err := api.CheckChangeLimit(limit); err != nil {
				return nil, fmt.Errorf("flag --limit %w", err)
			}
		}
		return c.Configurations(ctx, args[0], window, limit)
	}, writeConfigurationHistory)
	cmd.Flags().StringVar(&window, "window", "", "longest window of invocations compared before and after a change (default 1h)")
	cmd.Flags().IntVar(&limit, "limit", 0, "how many changes, newest first (default 50, at most 1000)")
	return cmd
}

// writeConfigurationHistory prints a line per change, then its functions'
// resources that changed.
func writeConfigurationHistory(w io.Writer, h *api.ConfigurationHistory) error {
	if h.History == "off" {
		_, err := fmt.Fprintln(w, h.Message)
		return err
	}
	warnDropped(w, h.Dropped)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "AT\tKIND\tINVOCATIONS\tP%g(ms)\tEXEC COST/INV($)\tRESOURCES\tWHY\n", h.Percentile)
	for _, c := range h.Changes {
		var changed []string
		for _, f := range c.Functions {
			if f.Changed {
				changed = append(changed, f.Function+" "+resources(f.Before)+" -> "+resources(f.After))
			}
		}
		sort.Strings(changed)
		if len(changed) == 0 {
			changed = []string{"unchanged"}
		}
		why := c.Reason
		if c.Policy != "" {
			why = c.Policy + ": " + why
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.At.Local().Format(time.DateTime), c.Kind,
			beforeAfter(c, func(w *api.ChangeWindow) string { return fmt.Sprint(w.Invocations) }),
			beforeAfter(c, func(w *api.ChangeWindow) string { return windowMs(w.PercentileMs) }),
			beforeAfter(c, func(w *api.ChangeWindow) string { return dollars(w.ExecutionCostPerInvocation) }),
			strings.Join(changed, "; "), why)
	}
	return tw.Flush()
}

// beforeAfter is one figure of a change's windows, "before -> after".
func beforeAfter(c api.ConfigurationChange, figure func(*api.ChangeWindow) string) string {
	before := "-"
	if c.Before != nil {
		before = figure(c.Before)
	}
	after := "-"
	if c.After != nil {
		after = figure(c.After)
	}
	return before + " -> " + after
}

func resources(r *api.Resources) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("%dm/%dMi", r.CPUMilli, r.MemoryBytes>>20)
}

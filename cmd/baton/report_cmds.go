package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
	"baton.dev/baton/scheduler/stats"
	"baton.dev/baton/workflow"
)

func reportCmd() *cobra.Command {
	var out, wf, since, step string
	var series bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "QoS and cost report per workflow over a window (--series: one workflow in time buckets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			if step != "" && !series {
				return fmt.Errorf("flag --step %q needs --series: the report is one window", step)
			}
			if series {
				if wf == "" {
					return fmt.Errorf("flag --series needs --workflow NAME: a series plots one workflow")
				}
				s, err := c.Series(cmd.Context(), wf, since, step)
				if err != nil {
					return err
				}
				return printReport(cmd.OutOrStdout(), out, seriesTable{s})
			}
			rep, err := c.Reports(cmd.Context(), wf, since)
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "window %s .. %s\n", rep.Since.Local().Format(time.DateTime), rep.Until.Local().Format(time.DateTime))
			if rep.History == "off" {
				fmt.Fprintln(w, rep.Message)
			}
			warnDropped(w, rep.Dropped)
			for _, r := range rep.Workflows {
				fmt.Fprintf(w, "\n%s\n", r.Name)
				if f := r.Figures; f != nil {
					fmt.Fprintf(w, "  invocations %d, errors %d, latency p50 %s, p95 %s, p99 %s\n", f.Invocations, f.Errors, msText(f.LatencyMs.P50), msText(f.LatencyMs.P95), msText(f.LatencyMs.P99))
					if q := f.QoS; q != nil {
						verdict := "MISSED"
						if q.Met {
							verdict = "met"
						}
						fmt.Fprintf(w, "  QoS p%g <= %.0f ms: %s (p%g = %s), violation rate %.2f%%\n", q.Percentile, q.TargetMs, verdict, q.Percentile, msText(q.AchievedMs), 100*q.ViolationRate)
					}
					fmt.Fprintf(w, "  cost $%.6f (execution $%.6f, idle $%.6f), $%.8f per invocation, cold-start rate %.2f%%\n",
						f.Cost.Total, f.Cost.Execution, f.Cost.Idle, f.Cost.PerInvocation, 100*f.ColdStartRate)
					if len(f.Stages) > 0 {
						tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "  STAGE\tFUNCTION\tRUNS\tEXEC P50(ms)\tEXEC P95(ms)\tQUEUED(ms)\tCOLD\tCOST/INV($)")
						for _, s := range f.Stages {
							fmt.Fprintf(tw, "  %s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.0f%%\t%.8f\n", s.Stage, s.Function, s.Runs, s.ExecP50Ms, s.ExecP95Ms, s.QueuedMeanMs, 100*s.ColdRate, s.CostPerInvocation)
						}
						if err := tw.Flush(); err != nil {
							return err
						}
					}
				}
				for _, fc := range r.Configuration {
					fmt.Fprintf(w, "  %s: %dm CPU, %d MiB (%s: %s)\n", fc.Function, fc.CPUMilli, fc.MemoryBytes>>20, fc.ChosenBy, fc.Detail)
				}
			}
			return nil
		},
	}
	outputFlag(cmd, &out)
	cmd.Flags().StringVar(&wf, "workflow", "", "only this workflow")
	cmd.Flags().StringVar(&since, "since", "24h", "window start: a duration back from now (24h) or an RFC 3339 time")
	cmd.Flags().BoolVar(&series, "series", false, "the workflow's figures in time buckets (needs --workflow)")
	cmd.Flags().StringVar(&step, "step", "", "with --series, each bucket's length, like 5m (default: the window over 288)")
	return cmd
}

// adminClient builds a client with the admin key.
func adminClient() (*client.Client, error) {
	cfg, err := client.LoadConfig()
	if err != nil {
		return nil, err
	}
	if cfg.AdminToken == "" {
		return nil, fmt.Errorf("no admin key: set BATON_ADMIN_TOKEN, or use the config `baton up` wrote")
	}
	return &client.Client{URL: cfg.URL, Token: cfg.AdminToken}, nil
}

// clusterCmd is `baton cluster`: the orchestrator replicas' leader.
func clusterCmd() *cobra.Command {
	return readCmd(&cobra.Command{Use: "cluster", Short: "Say which orchestrator replica leads, its term and since when (needs the admin key)", Args: cobra.NoArgs}, adminClient,
		func(ctx context.Context, c *client.Client, _ []string) (api.ClusterView, error) {
			return c.Cluster(ctx)
		},
		func(w io.Writer, v api.ClusterView) error {
			fmt.Fprintf(w, "answered by replica %s (%s)\n", v.Replica, v.Role)
			if v.Leader == nil {
				fmt.Fprintln(w, "no replica leads: an election is under way")
				return nil
			}
			fmt.Fprintf(w, "leader %s at %s, term %d, since %s\n", v.Leader.ID, v.Leader.URL, v.Leader.Term, v.Leader.Since.Local().Format(time.DateTime))
			return nil
		})
}

func workersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "workers", Short: "List and drain workers (needs the admin key)"}
	ls := readCmd(&cobra.Command{Use: "ls", Short: "List the workers with their capacity, reservations and state", Args: cobra.NoArgs}, adminClient,
		func(ctx context.Context, c *client.Client, _ []string) ([]api.WorkerView, error) {
			return c.Workers(ctx)
		},
		func(w io.Writer, list []api.WorkerView) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tRUNTIME\tCPU(m) RESERVED/CAP\tOVER-COMMIT\tMEMORY(MiB) RESERVED/CAP\tSANDBOXES\tSTRANDED")
			for _, wk := range list {
				ratio := "-"
				if wk.CPUAllocationRatio > 0 {
					ratio = fmt.Sprintf("x%g", wk.CPUAllocationRatio)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%d/%d\t%d\t%d\n", wk.ID, wk.State, wk.Runtime, wk.ReservedCPUMilli, wk.CPUMilli, ratio, wk.ReservedMemoryBytes>>20, wk.MemoryBytes>>20, wk.Sandboxes, wk.Stranded)
			}
			return tw.Flush()
		})
	drain := func(use, short string, on bool) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := adminClient()
				if err != nil {
					return err
				}
				return c.Drain(cmd.Context(), args[0], on)
			},
		}
	}
	cmd.AddCommand(ls, drain("drain", "Place no new sandboxes on a worker", true), drain("undrain", "Place sandboxes on a worker again", false))
	return cmd
}

func tenantsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenants", Short: "Manage tenants (needs the admin key: adminToken in the config, or BATON_ADMIN_TOKEN)"}
	admin := adminClient
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant and print its API key (shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := admin()
			if err != nil {
				return err
			}
			t, err := c.CreateTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tenant %s created; its API key follows and will not be shown again:\n", t.Name)
			fmt.Fprintln(cmd.OutOrStdout(), t.Key)
			return nil
		},
	}
	ls := readCmd(&cobra.Command{Use: "ls", Short: "List the tenants", Args: cobra.NoArgs}, admin,
		func(ctx context.Context, c *client.Client, _ []string) ([]api.TenantView, error) {
			return c.Tenants(ctx)
		},
		func(w io.Writer, list []api.TenantView) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKEYS\tCREATED\tQUOTA")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", t.Name, t.Keys, t.Created.Local().Format(time.DateTime), quotaText(t.Quota))
			}
			return tw.Flush()
		})
	rotate := &cobra.Command{
		Use:   "rotate-key NAME",
		Short: "Issue a new API key for a tenant and print it (shown once); its previous keys stop working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := admin()
			if err != nil {
				return err
			}
			t, err := c.RotateTenantKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tenant %s: its previous keys are revoked; its new API key follows and will not be shown again:\n", t.Name)
			fmt.Fprintln(cmd.OutOrStdout(), t.Key)
			return nil
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke every API key of a tenant at once (its workflows and history stay; rotate-key issues a new key)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := admin()
			if err != nil {
				return err
			}
			if err := c.RevokeTenantKeys(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tenant %s: every API key is revoked; `baton tenants rotate-key %s` issues a new one\n", args[0], args[0])
			return nil
		},
	}
	cmd.AddCommand(create, ls, rotate, revoke, quotaCmd(admin))
	return cmd
}

// quotaCmd is `baton tenants quota NAME`: a tenant's quota, set whole.
func quotaCmd(admin func() (*client.Client, error)) *cobra.Command {
	var (
		q           api.Quota
		cpu, memory string
	)
	cmd := &cobra.Command{
		Use:   "quota NAME [--sandboxes N] [--cpu CORES] [--memory SIZE] [--rate PER_SECOND [--burst N]] [--weight W]",
		Short: "Set a tenant's quota, whole (a bound not given is none): beyond it its requests get 429 with Retry-After",
		Long: `Sets what a tenant may hold and send at once: its sandboxes (idle, busy or being created), their
CPU and memory, and the invocations per second the API accepts from it. Beyond a bound its requests
are refused with 429 and Retry-After; other tenants are not affected. A quota under which one of its
deployed workflows could not run even one sandbox of a function is refused, naming them. Run with no
bounds to lift them all.

--weight is not a bound: when capacity is short, room goes to tenants in proportion to their weights
(weighted dominant resource fairness over CPU and memory); a tenant alone may use it all.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cpu != "" {
				c, err := workflow.ParseCPU(cpu)
				if err != nil || c.Auto {
					return fmt.Errorf("flag --cpu %q: want cores like 4 or millicores like 3500m", cpu)
				}
				q.CPUMilli = c.Milli
			}
			if memory != "" {
				m, err := workflow.ParseMemory(memory)
				if err != nil || m.Auto {
					return fmt.Errorf("flag --memory %q: want a size like 8Gi", memory)
				}
				q.MemoryBytes = m.Bytes
			}
			c, err := admin()
			if err != nil {
				return err
			}
			t, err := c.SetTenantQuota(cmd.Context(), args[0], q)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: quota %s\n", t.Name, quotaText(t.Quota))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&q.Sandboxes, "sandboxes", 0, "most sandboxes at once, idle, busy or being created (0: no bound)")
	f.StringVar(&cpu, "cpu", "", "most CPU their limits sum to, like 8 or 3500m")
	f.StringVar(&memory, "memory", "", "most memory their limits sum to, like 16Gi")
	f.Float64Var(&q.InvocationsPerSecond, "rate", 0, "most invocations per second the API accepts (0: no bound)")
	f.IntVar(&q.Burst, "burst", 0, "invocations accepted at once above --rate (default: one second's worth)")
	f.Float64Var(&q.Weight, "weight", 0, "the tenant's weight in the fair share of contended capacity, against other tenants' (0: the default, 1)")
	return cmd
}

// quotaText writes a quota in a line.
func quotaText(q *api.Quota) string {
	if q == nil {
		return "none"
	}
	var parts []string
	if q.Sandboxes > 0 {
		parts = append(parts, fmt.Sprintf("%d sandboxes", q.Sandboxes))
	}
	if q.CPUMilli > 0 {
		parts = append(parts, fmt.Sprintf("%dm CPU", q.CPUMilli))
	}
	if q.MemoryBytes > 0 {
		parts = append(parts, fmt.Sprintf("%dMi memory", q.MemoryBytes>>20))
	}
	if q.InvocationsPerSecond > 0 {
		r := fmt.Sprintf("%g invocations/s", q.InvocationsPerSecond)
		if q.Burst > 0 {
			r += fmt.Sprintf(" (burst %d)", q.Burst)
		}
		parts = append(parts, r)
	}
	if q.Weight > 0 {
		parts = append(parts, fmt.Sprintf("weight %g", q.Weight))
	}
	return strings.Join(parts, ", ")
}

// msText prints a latency percentile; one whose rank falls on a failed
// invocation (+Inf) says so.
func msText(m stats.Ms) string {
	if math.IsInf(float64(m), 1) {
		return "failed (the rank falls on a failed invocation)"
	}
	return fmt.Sprintf("%.1f ms", float64(m))
}

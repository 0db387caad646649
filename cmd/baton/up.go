package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"baton.dev/baton/dags"
	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/orchestrator/client"
)

func upCmd() *cobra.Command {
	var (
		cfg     standalone.Config
		samples bool
		verbose bool
	)
	var applyPulls func() error
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run Baton on this machine: NATS, the orchestrator and a worker, in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyPulls(); err != nil {
				return err
			}
			orchestratorGC()
			ctx := cmd.Context()
			applyOrchestrationFlags(cmd.Flags(), &cfg.Orchestration)
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if prev, err := client.LoadConfig(); err == nil {
				cfg.Token, cfg.AdminToken = prev.Token, prev.AdminToken
			}
			cl, err := standalone.Start(ctx, cfg)
			if err != nil {
				return err
			}
			defer func() {
				fmt.Fprintln(cmd.ErrOrStderr(), "stopping: deleting sandboxes, stopping containerd and NATS ...")
				stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if err := cl.Stop(stopCtx); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "baton: stop:", err)
				}
			}()
			path, err := client.SaveConfig(client.Config{URL: cl.URL, Token: cl.Token, AdminToken: cl.AdminToken})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			var first string
			if samples {
				list, err := dags.Samples()
				if err != nil {
					return err
				}
				for _, s := range list {
					if _, _, err := cl.Orchestrator.Deploy(ctx, standalone.DefaultTenant, s.Name+".yaml", s.YAML); err != nil {
						return fmt.Errorf("deploy sample %s: %w", s.Name, err)
					}
					fmt.Fprintf(w, "deployed sample workflow %s\n", s.Name)
					if first == "" {
						first = s.Name
					}
				}
			}
			fmt.Fprintf(w, "\nBaton is up (runtime: %s).\n  API:     %s\n  config:  %s (the CLI reads it; BATON_URL and BATON_TOKEN override it)\n  history: %s\n", cl.Runtime, cl.URL, path, historyNote(cl.History))
			if first != "" {
				fmt.Fprintf(w, "\nTry:\n  baton invoke %[1]s -d @dags/%[1]s.input.json\n  curl -s -H \"Authorization: Bearer $(jq -r .token %[2]s)\" --data-binary @dags/%[1]s.input.json %[3]s/v1/workflows/%[1]s/invoke\n", first, path, cl.URL)
			}
			fmt.Fprintln(w, "\nCtrl-C stops everything and removes every sandbox.")
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "/var/lib/baton", "directory for NATS, containerd and sandbox state")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address of the HTTP API")
	f.StringVar(&cfg.Runtime, "runtime", standalone.RuntimeAuto, "sandbox runtime: auto, containerd or process")
	f.StringVar(&cfg.ContainerdAddress, "containerd", "", "socket of a running containerd to use instead of starting a private one")
	f.StringVar(&cfg.ImagesDir, "images", "build/images", "directory of function image archives to import")
	f.StringVar(&cfg.Subnet, "subnet", "10.177.0.0/16", "subnet of the sandbox bridge")
	f.StringVar(&cfg.Postgres, "postgres", "auto", "history: auto (a private Postgres in the data directory when its binaries are installed), off, or a postgres:// URL")
	orchestrationFlags(f, &cfg.Orchestration)
	applyPulls = pullFlags(f, &cfg.Pulls)
	f.IntVar(&cfg.Workers, "workers", 1, "how many workers to run, each with its own private containerd")
	f.Float64Var(&cfg.WorkerCPUAllocationRatio, "cpu-allocation-ratio", standalone.DefaultCPUAllocationRatio, "each worker's CPU over-commit: sandboxes' CPU limits may sum to this many times its cores, never more")
	f.BoolVar(&samples, "samples", true, "deploy the sample workflows of dags/")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}

func historyNote(where string) string {
	if where == "off" {
		return "OFF (no Postgres): reports will have no figures"
	}
	if u, err := url.Parse(where); err == nil && u.User != nil {
		u.User = url.User(u.User.Username()) // never print a password
		return "Postgres at " + u.String()
	}
	return "Postgres"
}

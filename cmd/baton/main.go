// Command baton is Baton's one binary: `baton up` runs a whole cluster on
// this machine, the other verbs are the API's client. It only parses flags
// and wires packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"baton.dev/baton/orchestrator/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd().ExecuteContext(ctx); err != nil {
		var exit *exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		fmt.Fprintln(os.Stderr, "baton:", err)
		var ce *client.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				fmt.Fprintf(os.Stderr, "  %s:%d:%d: %s: %s\n", p.File, p.Line, p.Col, p.Field, p.Msg)
			}
		}
		os.Exit(1)
	}
}

// rootCmd is the whole command tree.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "baton",
		Short:         "Baton: serverless multi-stage workflows with a latency QoS at the lowest cost",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(upCmd(), natsConfigCmd(), deployCmd(), validateCmd(), workflowsCmd(), invokeCmd(), invocationsCmd(), imagesCmd(), reportCmd(), tenantsCmd(), registriesCmd(), workerCmd(), orchestratorCmd(), clusterCmd(), healthCmd(), workersCmd(), tuneCmd(), simCmd(), profileCmd(), schemaCmd(), benchCmd())
	return root
}

// exitError ends the command with a status and no further message (the
// command printed its own).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// apiClient builds a client from the config file and environment.
func apiClient() (*client.Client, error) {
	cfg, err := client.LoadConfig()
	if err != nil {
		return nil, err
	}
	return &client.Client{URL: cfg.URL, Token: cfg.Token}, nil
}

// outputFlag adds -o/--output to a read command.
func outputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", "table", "output format: table or json")
}

// readCmd makes c a command that reads one thing from the API, with the
// client connect gives, and prints it as JSON (-o json) or as table
// writes it (the default).
func readCmd[T any](c *cobra.Command, connect func() (*client.Client, error),
	fetch func(ctx context.Context, cl *client.Client, args []string) (T, error),
	table func(w io.Writer, v T) error) *cobra.Command {
	var out string
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(out); err != nil {
			return err
		}
		cl, err := connect()
		if err != nil {
			return err
		}
		v, err := fetch(cmd.Context(), cl, args)
		if err != nil {
			return err
		}
		if out == "json" {
			return printJSON(cmd.OutOrStdout(), v)
		}
		return table(cmd.OutOrStdout(), v)
	}
	outputFlag(c, &out)
	return c
}

func checkOutput(out string) error {
	if out != "table" && out != "json" {
		return fmt.Errorf("flag -o %q: want table or json", out)
	}
	return nil
}

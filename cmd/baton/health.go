package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// healthCmd is `baton health URL`: a container health check, with no
// tool but the binary (the image has no curl).
func healthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health URL",
		Short: "Exit 0 when the orchestrator replica at URL answers GET /healthz with 200 (for container health checks)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
			defer cancel()
			url := strings.TrimRight(args[0], "/") + "/healthz"
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("URL %q: %w", args[0], err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s", url, resp.Status)
			}
			return nil
		},
	}
}

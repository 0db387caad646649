package main

import (
	"github.com/spf13/cobra"

	"baton.dev/baton/workflow"
)

// schemaCmd prints the JSON Schema of the workflow language, for editors
// (e.g. yaml-language-server: `# yaml-language-server: $schema=FILE`).
func schemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the workflow language, for editors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(workflow.JSONSchema())
			return err
		},
	}
}

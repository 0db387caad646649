package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/imagebuild"
)

func imagesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "images", Short: "Build function images locally and push them to registries"}
	var root, out string
	build := &cobra.Command{
		Use:   "build",
		Short: "Build every function under dags/functions into an image archive (static Go binaries; no registry needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			imgs, err := imagebuild.BuildFunctions(cmd.Context(), root, out)
			if err != nil {
				return err
			}
			for _, img := range imgs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", img.Ref, img.Archive)
			}
			return nil
		},
	}
	build.Flags().StringVar(&root, "root", ".", "the repository's root (holding go.mod and dags/)")
	build.Flags().StringVar(&out, "out", "build/images", "directory for the image archives")
	cmd.AddCommand(build, imagesPushCmd())
	return cmd
}

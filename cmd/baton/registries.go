package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/orchestrator/client"
	"github.com/spf13/cobra"
)

// registriesCmd manages the tenant's logins to private registries.
func registriesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "registries", Short: "Log in to private image registries (your tenant's logins, sealed at rest)"}
	var username string
	var passwordStdin bool
	add := &cobra.Command{
		Use:   "add HOST --username U --password-stdin",
		Short: "Store your login to a registry, used only to pull your own images",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if username == "" {
				return errors.New("flag --username is required")
			}
			if !passwordStdin {
				return errors.New("give the password on standard input with --password-stdin (never on the command line, where other users and the shell's history see it)")
			}
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			password := strings.TrimRight(line, "\r\n")
			if password == "" {
				return fmt.Errorf("no password on standard input (%v)", err)
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			if err := c.AddRegistry(cmd.Context(), args[0], username, password); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "login to %s stored for %s\n", args[0], username)
			return nil
		},
	}
	add.Flags().StringVarP(&username, "username", "u", "", "user name at the registry")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password (or token) from standard input")
	rm := &cobra.Command{
		Use:   "rm HOST",
		Short: "Remove your login to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient()
			if err != nil {
				return err
			}
			return c.RemoveRegistry(cmd.Context(), args[0])
		},
	}
	ls := readCmd(&cobra.Command{
		Use:   "ls",
		Short: "List your registry logins (hosts and user names; passwords are never shown)",
		Args:  cobra.NoArgs,
	}, apiClient, func(ctx context.Context, c *client.Client, _ []string) ([]api.RegistryLoginView, error) {
		return c.Registries(ctx)
	}, func(w io.Writer, list []api.RegistryLoginView) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HOST\tUSERNAME\tADDED")
		for _, r := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Host, r.Username, r.Created.Local().Format(time.DateTime))
		}
		return tw.Flush()
	})
	cmd.AddCommand(add, rm, ls)
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"baton.dev/baton/natsauth"
)

// busFlags adds how a worker or the orchestrator reaches the control bus.
func busFlags(f *pflag.FlagSet, url *string, c *natsauth.Client) {
	f.StringVar(url, "nats", nats.DefaultURL, "NATS server URL")
	f.StringVar(&c.Creds, "nats-creds", "", "credentials on the bus: this process's NKEY seed file from `baton nats-config` (or an nsc .creds file)")
	f.StringVar(&c.TLSCA, "nats-tls-ca", "", "PEM file of CAs to trust for a NATS server that speaks TLS, beside the system's")
	f.StringVar(&c.TLSCert, "nats-tls-cert", "", "client certificate (PEM) for a NATS server that verifies clients")
	f.StringVar(&c.TLSKey, "nats-tls-key", "", "key of --nats-tls-cert")
}

// connectNATS connects to a NATS cluster and keeps reconnecting for as
// long as the process runs. A server that refuses the credentials is an
// error at once, not a retry forever; the server's later refusals (a
// subject outside this process's permissions) are logged as errors.
func connectNATS(ctx context.Context, url, name string, c natsauth.Client, log *slog.Logger) (*nats.Conn, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	firstErr := make(chan error, 1)
	opts = append(opts, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Timeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
				if isAuthError(err) {
					select {
					case firstErr <- err:
					default:
					}
				}
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrl()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				log.Error("the NATS server refused a subject outside this process's permissions (do --id and --nats-creds name the same worker?)", "err", err)
				return
			}
			log.Warn("NATS", "err", err)
		}))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	// With RetryOnFailedConnect the first attempt runs in the background:
	// wait for it, so that refused credentials stop the process with
	// their reason, while a server not up yet is waited for.
	for !nc.IsConnected() {
		if err := nc.LastError(); err != nil && isAuthError(err) {
			nc.Close()
			return nil, fmt.Errorf("connect to NATS at %s: the server refused this process's credentials (--nats-creds): %w", url, err)
		}
		select {
		case err := <-firstErr:
			nc.Close()
			return nil, fmt.Errorf("connect to NATS at %s: the server refused this process's credentials (--nats-creds): %w", url, err)
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("connect to NATS at %s: %w", url, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nc, nil
}

func isAuthError(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}

// natsConfigCmd is `baton nats-config`: the control bus's users.
func natsConfigCmd() *cobra.Command {
	var (
		dir     string
		workers []string
		srv     natsauth.Server
	)
	cmd := &cobra.Command{
		Use:   "nats-config --out DIR --worker ID [--worker ID ...]",
		Short: "Write a NATS server configuration and credentials for the orchestrator and each worker, each held to its own subjects",
		Long: `Writes into DIR: server/nats-server.conf (run the cluster's NATS with nats-server -c DIR/server/nats-server.conf),
orchestrator/nats.nk for baton orchestrator --nats-creds, and workers/ID/nats.nk for each baton worker --id ID --nats-creds
(each in a directory of its own, to give each process its own credentials alone).
A worker may then subscribe only to its own commands, publish only its own heartbeats and answer only the
requests it was sent; nothing without credentials connects. Credentials already in DIR are kept, so running
it again with one more --worker adds that worker (reload the server: nats-server --signal reload).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := natsauth.Generate(dir, workers, srv)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "server configuration: %s\norchestrator: --nats-creds %s\n", b.ServerConfig, b.Orchestrator)
			for _, id := range workers {
				fmt.Fprintf(w, "worker %s: --id %s --nats-creds %s\n", id, id, b.Workers[id])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "out", "", "directory to write into (made 0700)")
	f.StringArrayVar(&workers, "worker", nil, "a worker's ID (repeatable)")
	f.StringVar(&srv.Listen, "listen", "0.0.0.0:4222", "the server's client address")
	f.StringVar(&srv.StoreDir, "store-dir", "/data", "JetStream's store directory on the server")
	f.StringVar(&srv.Monitor, "monitor", "", "address of the server's HTTP monitoring (health checks), like 0.0.0.0:8222; empty for none")
	f.StringVar(&srv.TLSCert, "tls-cert", "", "the server's TLS certificate (PEM): clients then connect over TLS only")
	f.StringVar(&srv.TLSKey, "tls-key", "", "key of --tls-cert")
	f.StringVar(&srv.TLSCA, "tls-ca", "", "CA (PEM) whose client certificates the server demands (with --tls-cert)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

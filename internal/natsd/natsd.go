// Package natsd runs an embedded NATS server with JetStream, for `baton up`
// and for tests.
package natsd

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures the embedded server.
type Config struct {
	// Dir holds JetStream's data.
	Dir string
	// Host and Port to listen on; Port -1 picks a free port.
	Host string
	Port int
	// Private takes no network connections at all: only clients in this
	// process (nats.InProcessServer) reach the server. `baton up` runs so.
	Private bool
	// ConfigFile is a nats-server configuration to start from (users,
	// permissions, TLS: see package natsauth); Dir, Host and Port given
	// here override its own.
	ConfigFile string
}

// Start runs a NATS server with JetStream and waits until it accepts
// connections. Shut it down with Shutdown and WaitForShutdown.
func Start(cfg Config) (*server.Server, error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	opts := &server.Options{}
	if cfg.ConfigFile != "" {
		var err error
		if opts, err = server.ProcessConfigFile(cfg.ConfigFile); err != nil {
			return nil, fmt.Errorf("nats server: %w", err)
		}
	}
	opts.ServerName, opts.Host, opts.Port = "baton", cfg.Host, cfg.Port
	opts.JetStream, opts.StoreDir = true, cfg.Dir
	opts.NoSigs, opts.NoLog, opts.DontListen = true, true, cfg.Private
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server did not become ready within 10s (store %s)", cfg.Dir)
	}
	return s, nil
}

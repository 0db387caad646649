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
	s, err := server.NewServer(&server.Options{
		ServerName: "baton",
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		NoSigs:     true,
		NoLog:      true,
	})
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

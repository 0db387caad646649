package simcluster

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"baton.dev/baton/orchestrator"
	"baton.dev/baton/orchestrator/leader"
)

// startStandbys makes the measured control plane the leader of
// c.cfg.Standbys+1 replicas: it holds the lease (renewing it in the
// bucket), and each standby is a real warm standby orchestrator
// (orchestrator.Config.Standby) on a connection of its own, campaigning
// for the lease and following the heartbeats and the definitions, as a
// replica does. What that costs the leader and the bus is what the
// control-plane bench with replicas measures. The term is not announced:
// the simulated router stamps none.
func (c *Cluster) startStandbys(ctx context.Context) error {
	elect := func(nc *nats.Conn, id string) (*leader.Elector, error) {
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, fmt.Errorf("simcluster: jetstream: %w", err)
		}
		e, err := leader.New(ctx, leader.Config{JS: js, ID: id, URL: "http://" + id + ".invalid", Logger: c.cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("simcluster: replica %s: %w", id, err)
		}
		c.wg.Add(1)
		go func() { defer c.wg.Done(); _ = e.Run(ctx) }()
		return e, nil
	}
	e, err := elect(c.nc, "sim-leader")
	if err != nil {
		return err
	}
	select { // the measured control plane leads before any standby campaigns
	case <-e.Elected():
	case <-ctx.Done():
		return ctx.Err()
	}
	for i := range c.cfg.Standbys {
		id := fmt.Sprintf("sim-standby-%d", i)
		nc, err := c.connectStandby(id)
		if err != nil {
			return err
		}
		o, err := orchestrator.New(ctx, orchestrator.Config{Conn: nc, Keys: orchestrator.NewKeys(), Standby: true, Logger: c.cfg.Logger})
		if err != nil {
			return fmt.Errorf("simcluster: standby %s: %w", id, err)
		}
		c.closers = append(c.closers, func() error { o.Close(); return nil })
		if _, err := elect(nc, id); err != nil {
			return err
		}
	}
	return nil
}

// connectStandby opens a standby's own NATS connection to the fleet's
// server, closed by Stop.
func (c *Cluster) connectStandby(id string) (*nats.Conn, error) {
	if c.fleet != nil {
		return c.fleet.connect(id)
	}
	nc, err := nats.Connect(c.cfg.NATSURL, nats.Name(id), nats.Timeout(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("simcluster: connect %s to NATS: %w", id, err)
	}
	c.closers = append(c.closers, func() error { nc.Close(); return nil })
	return nc, nil
}

package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/registry"
	"baton.dev/baton/workflow"
)

// registryFlags adds how this process reaches image registries: the
// orchestrator pins tags with them, workers pull with them, so both take
// the same two flags.
func registryFlags(f *pflag.FlagSet, h *registry.Hosts) {
	f.StringVar(&h.CAFile, "registry-ca", "", "PEM file of CAs trusted for image registries, beside the system's")
	f.StringArrayVar(&h.Insecure, "insecure-registry", nil, "registry host[:port] reached over plain HTTP (repeatable); every other registry only over TLS")
}

// pullFlags adds a worker's pull bounds and image cache budget; apply
// parses them into p.
func pullFlags(f *pflag.FlagSet, p *standalone.Pulls) (apply func() error) {
	registryFlags(f, &p.Registries)
	f.DurationVar(&p.Timeout, "pull-timeout", 5*time.Minute, "how long one image pull may take")
	size := f.String("pull-max-size", "8Gi", "largest image (manifests, config and layers) a pull may fetch, like 2Gi")
	cache := f.String("image-cache", "20Gi", "budget of a worker's pulled images (their distinct compressed layers, configs and manifests), like 50Gi: "+
		"above it, images no sandbox uses are removed, least recently used first; 0 keeps them all forever. "+
		"20Gi holds dozens of function images, or two at the default --pull-max-size, and bounds the disk they take (unpacked layers about as much again)")
	return func() error {
		n, err := workflow.ParseMemory(*size)
		if err != nil || n.Auto || n.Bytes <= 0 {
			return fmt.Errorf("flag --pull-max-size %q: want a size like 2Gi", *size)
		}
		p.MaxBytes = n.Bytes
		if *cache == "0" {
			p.CacheBytes = 0
			return nil
		}
		c, err := workflow.ParseMemory(*cache)
		if err != nil || c.Auto || c.Bytes <= 0 {
			return fmt.Errorf("flag --image-cache %q: want a size like 20Gi, or 0 for no limit", *cache)
		}
		p.CacheBytes = c.Bytes
		return nil
	}
}

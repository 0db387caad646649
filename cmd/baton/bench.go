package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
	"baton.dev/baton/internal/standalone"
)

// benchCmd groups Baton's benchmarks (internal/bench). Each prints its
// figures side by side with its baseline, measured in the same run, since
// absolute times drift on a shared machine.
func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Baton against its baselines: control plane, data plane, cold starts, pre-warming",
	}
	cmd.AddCommand(benchControlPlaneCmd(), benchControlPlaneWorkersCmd(), benchDataPlaneCmd(), benchColdStartCmd(), benchPrewarmCmd(), benchDataPlaneClientCmd(), benchOverloadCmd(), benchOverloadClientCmd(), benchFailoverCmd())
	return cmd
}

// localFlags adds the flags of the benchmarks that start Baton on this
// machine.
func localFlags(f interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}, o *bench.LocalOptions) {
	f.StringVar(&o.Images, "images", "build/images", "directory of image archives; the test function images are built there when missing")
	f.StringVar(&o.Root, "root", ".", "the repository's root, to build the test function images from")
	f.StringVar(&o.Runtime, "runtime", standalone.RuntimeContainerd, "sandbox runtime: containerd or process")
	f.BoolVar(&o.Verbose, "verbose", false, "log Baton's warnings to stderr")
	f.BoolVar(&o.Unhardened, "unhardened", false, "run the sandboxes without the hardening (non-root, no capabilities, seccomp, read-only root, limits, isolated bridge ports, firewall), to price it; never for tenants")
}

// createCPUProfile creates the file of --cpuprofile and returns it with
// the function that closes it; an empty path gives no file (a nil writer).
func createCPUProfile(path string) (io.Writer, func(), error) {
	if path == "" {
		return nil, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("flag --cpuprofile: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// stallsFlag adds --stalls, which turns the benchmark's probes of this
// machine's CPU stalls on or off.
func stallsFlag(cmd *cobra.Command, probe *bool) {
	cmd.Flags().BoolVar(probe, "stalls", true, fmt.Sprintf("spin one thread for %v before and after the run and report how often, and how long, this machine took the CPU from it", bench.StallProbe))
}

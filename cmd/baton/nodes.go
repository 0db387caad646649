package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"baton.dev/baton/internal/standalone"
	"baton.dev/baton/natsauth"
	"baton.dev/baton/orchestrator/leader"
	"baton.dev/baton/scheduler/prewarm"
	"baton.dev/baton/worker/machine"
	"baton.dev/baton/workflow"
)

func newLogger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func workerCmd() *cobra.Command {
	var (
		cfg          standalone.WorkerConfig
		natsURL, cpu string
		bus          natsauth.Client
		memory       string
		verbose      bool
		cleanup      bool
	)
	var applyPulls func() error
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker: a sandbox runtime served to the orchestrator over NATS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyPulls(); err != nil {
				return err
			}
			log := newLogger(verbose)
			cfg.Logger = log
			if cleanup {
				return cleanupMachine(cmd.OutOrStdout(), cfg.Registry)
			}
			if cpu != "" {
				q, err := workflow.ParseCPU(cpu)
				if err != nil || q.Auto {
					return fmt.Errorf("flag --cpu %q: want millicores like 4000m or cores like 4", cpu)
				}
				cfg.CPUMilli = q.Milli
			}
			if memory != "" {
				q, err := workflow.ParseMemory(memory)
				if err != nil || q.Auto {
					return fmt.Errorf("flag --memory %q: want a size like 8Gi", memory)
				}
				cfg.MemoryBytes = q.Bytes
			}
			if cfg.ID == "" {
				host, err := os.Hostname()
				if err != nil {
					return fmt.Errorf("flag --id is empty and the host name is unknown: %w", err)
				}
				// A host name's first label: a worker ID is one NATS token.
				cfg.ID, _, _ = strings.Cut(host, ".")
			}
			nc, err := connectNATS(cmd.Context(), natsURL, "baton-worker-"+cfg.ID, bus, log)
			if err != nil {
				return err
			}
			defer nc.Close()
			cfg.Conn = nc
			w, err := standalone.StartWorker(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			log.Info("worker running; Ctrl-C or SIGTERM deletes its sandboxes and stops it", "id", w.ID, "runtime", w.Runtime, "nats", natsURL)
			select {
			case <-cmd.Context().Done():
			case <-w.Ended(): // Stop says why
			}
			stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			return w.Stop(stopCtx)
		},
	}
	f := cmd.Flags()
	busFlags(f, &natsURL, &bus)
	f.StringVar(&cfg.ID, "id", "", "worker ID, unique in the cluster (default: the host name)")
	f.IntVar(&cfg.MaxConcurrentCreates, "max-concurrent-creates", 32, "sandbox creations this worker runs at once; more wait their turn")
	f.IntVar(&cfg.FullHeartbeatEvery, "full-heartbeat-every", 1, "send a full heartbeat only when this worker's state changed or every this many beats, short beats between (1: every heartbeat full; more needs orchestrators that take short beats)")
	f.StringVar(&cfg.Runtime, "runtime", standalone.RuntimeAuto, "sandbox runtime: auto, containerd, process or fake (scale simulation only)")
	f.StringVar(&cpu, "cpu", "", "CPU offered to sandboxes, like 4 or 3500m (default: every core)")
	f.Float64Var(&cfg.CPUAllocationRatio, "cpu-allocation-ratio", standalone.DefaultCPUAllocationRatio, "CPU over-commit: sandboxes' CPU limits may sum to this many times --cpu, never more (memory is never over-committed)")
	f.StringVar(&memory, "memory", "", "memory offered to sandboxes, like 8Gi (default: three quarters of the machine's)")
	f.StringVar(&cfg.DataDir, "data", "/var/lib/baton/worker", "directory for the runtime's state and a private containerd")
	f.StringVar(&cfg.ImagesDir, "images", "build/images", "directory of function image archives to import")
	f.StringVar(&cfg.ContainerdAddress, "containerd", "", "socket of a running containerd to use instead of starting a private one")
	f.StringVar(&cfg.Subnet, "subnet", "10.177.0.0/16", "subnet of the sandbox bridge (distinct per worker on one machine)")
	applyPulls = pullFlags(f, &cfg.Pulls)
	f.StringVar(&cfg.Registry, "registry", machine.DefaultDir, "this machine's registry of worker incarnations, shared by every worker on it")
	f.BoolVar(&cleanup, "cleanup", false, "remove what dead workers left running on this machine (sandboxes, containerd daemons, network namespaces, veths, bridges) and exit; live workers are left alone")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}

// cleanupMachine is `baton worker --cleanup`.
func cleanupMachine(out io.Writer, registry string) error {
	swept, err := standalone.Cleanup(registry)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEAD WORKER\tINCARNATION\tDATA\tBRIDGE\tPROCESSES KILLED\tMOUNTS REMOVED\tLINKS REMOVED")
	for _, sw := range swept {
		d := sw.Incarnation
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", d.WorkerID, d.ID, d.DataDir, d.Bridge, sw.Processes, sw.Mounts, sw.Links)
	}
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	fmt.Fprintf(out, "%d dead worker incarnations swept\n", len(swept))
	return nil
}

func orchestratorCmd() *cobra.Command {
	var (
		cfg     standalone.ReplicaConfig
		natsURL string
		bus     natsauth.Client
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "orchestrator",
		Short: "Run an orchestrator replica (API, router, autoscaler, placement) against a NATS cluster",
		Long: `Runs one orchestrator replica. Replicas against one NATS cluster elect a leader
through a lease in JetStream (--lease-ttl); the leader runs the orchestrator,
and every replica serves the whole API, forwarding to the leader. When the
leader dies a standby takes over within the lease's TTL and adopts the
workers' sandboxes; a leader deposed while it was cut off (paused,
partitioned) exits with an error, to be started again as a standby, and the
workers refuse what it sends meanwhile (its term is older). Alone, a replica
leads. Replicas must share the API keys (BATON_TOKEN, BATON_ADMIN_TOKEN) and,
for one history, --postgres URL.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			orchestratorGC()
			applyOrchestrationFlags(cmd.Flags(), &cfg.Orchestration)
			log := newLogger(verbose)
			cfg.Logger = log
			nc, err := connectNATS(cmd.Context(), natsURL, "baton-orchestrator", bus, log)
			if err != nil {
				return err
			}
			defer nc.Close()
			cfg.Conn = nc
			cfg.Token, cfg.AdminToken = os.Getenv("BATON_TOKEN"), os.Getenv("BATON_ADMIN_TOKEN")
			if cfg.ID == "" {
				host, err := os.Hostname()
				if err != nil {
					return fmt.Errorf("flag --replica-id is empty and the host name is unknown: %w", err)
				}
				cfg.ID, _, _ = strings.Cut(host, ".")
			}
			r, err := standalone.StartReplica(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "orchestrator replica %s serving %s; it leads once it holds the lease, else forwards to the leader\n", cfg.ID, r.URL)
			if r.Token != cfg.Token || r.AdminToken != cfg.AdminToken {
				fmt.Fprintf(w, "new API keys (shown once; only their hashes are kept in %s/keys.json):\n  BATON_TOKEN=%s\n  BATON_ADMIN_TOKEN=%s\n", cfg.DataDir, r.Token, r.AdminToken)
			}
			var ended error
			select {
			case <-cmd.Context().Done():
			case <-r.Ended():
				ended = r.Err()
			}
			stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			return errors.Join(ended, r.Stop(stopCtx))
		},
	}
	f := cmd.Flags()
	busFlags(f, &natsURL, &bus)
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address of the HTTP API")
	f.StringVar(&cfg.ID, "replica-id", "", "this replica's name, unique among the orchestrator replicas (default: the host name)")
	f.StringVar(&cfg.Advertise, "advertise", "", "URL the other replicas forward requests to (default: http:// and the --listen address)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", leader.DefaultTTL, "how long the leader's lease holds without a renewal: a standby takes over that long after the leader stops")
	f.StringVar(&cfg.DataDir, "data", "/var/lib/baton/orchestrator", "directory for the key hashes and a private Postgres")
	f.StringVar(&cfg.Postgres, "postgres", "auto", "history: auto (a private Postgres when its binaries are installed), off, or a postgres:// URL")
	orchestrationFlags(f, &cfg.Orchestration)
	registryFlags(f, &cfg.Registries)
	f.StringVar(&cfg.SecretKeyFile, "secret-key-file", "", "file of the key (64 hex digits) that seals tenants' registry logins at rest (default: $BATON_SECRET_KEY, else secret.key in --data, made once)")
	f.DurationVar(&cfg.HealthTimeout, "sandbox-start-timeout", 30*time.Second, "how long a sandbox may take to become healthy; a worker gets this plus 5s to answer a create")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}

// orchestrationFlags adds the flags `baton up` and `baton orchestrator`
// share: how the orchestrator scales sandboxes, and what workflows may
// ask their sandboxes be granted.
func orchestrationFlags(f *pflag.FlagSet, o *standalone.Orchestration) {
	f.DurationVar(&o.KeepAlive, "keep-alive", 60*time.Second, "how long an idle sandbox is kept (with --prewarm aquatope: above the warm-pool floor)")
	f.IntVar(&o.MaxSandboxesPerFunction, "max-sandboxes-per-function", 0, "cap on each function's sandboxes; requests beyond it queue (0: no cap)")
	f.IntVar(&o.MaxQueue, "max-queue", 1000, "most requests waiting for a sandbox of one function; beyond it a request is refused at once with 503 and Retry-After (0: no bound)")
	f.DurationVar(&o.MaxQueueWait, "max-queue-wait", time.Minute, "longest a request waits for a sandbox of its function before it is refused with 503 and Retry-After (0: no bound)")
	f.StringSliceVar(&o.Allow.Capabilities, "allow-capability", nil, "a Linux capability, without CAP_ (e.g. NET_BIND_SERVICE), that workflows may ask for in a function's security.capabilities; repeat for more (default: none)")
	f.BoolVar(&o.Allow.Root, "allow-root", false, "let workflows run functions as uid 0 (security.runAsRoot: true)")
	f.BoolVar(&o.Allow.Egress, "allow-egress", false, "let workflows open connections to public internet addresses (spec.network.egress: internet); private ranges, the host and other sandboxes stay out of reach")
	names := slices.DeleteFunc(prewarm.Names(), func(n string) bool { return n == "oracle" })
	f.StringVar(&o.Prewarm, "prewarm", "off", "live pre-warm policy: off (the keep-alive alone) or "+strings.Join(names, ", "))
	f.DurationVar(&o.PrewarmInterval, "prewarm-interval", 10*time.Second, "planning interval of the pre-warm policy")
}

// applyOrchestrationFlags: --keep-alive, when given, is also the aquatope
// policies' keep-alive above the floor; else they keep their default.
func applyOrchestrationFlags(f *pflag.FlagSet, o *standalone.Orchestration) {
	if f.Changed("keep-alive") {
		o.PrewarmKeepAlive = o.KeepAlive
	}
}

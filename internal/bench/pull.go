package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"baton.dev/baton/internal/registryserver"
	"baton.dev/baton/internal/rundir"
	"baton.dev/baton/internal/simcluster"
	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
	ctrd "baton.dev/baton/worker/containerd"
)

// Pull targets: cold starts of never-seen images through Baton at no less
// than 0.9 of the throughput of `ctr images pull` and the same sandbox
// start, with the pull phase within 10% of ctr's pull; a burst of cold
// starts of one never-seen image on one worker makes one pull.
const (
	pullTargetRatio      = 0.9
	pullTargetPullRatio  = 1.1
	pullTargetBurstPulls = 1
)

// PullOptions configures RunPull.
type PullOptions struct {
	// Local is the Baton to start (containerd runtime).
	Local LocalOptions
	// N is how many never-seen images each side cold-starts at once.
	N int
	// Burst is how many cold starts of one never-seen image run at once.
	Burst int
	// Deploys is how many deploys with tag resolution are timed.
	Deploys int
}

// PullReport is what RunPull measured.
type PullReport struct {
	N int `json:"n"`
	// Baton invokes N fresh workflows, each naming its own never-seen
	// image; Direct runs `ctr images pull` and Runtime.Create + one POST
	// for each of N other never-seen images of the same size.
	Baton  ColdSide `json:"baton"`
	Direct ColdSide `json:"direct"`
	Ratio  float64  `json:"throughputRatio"`
	// BatonPullMs is the mean pull phase of Baton's cold starts; CtrPullMs
	// the mean time of `ctr images pull` (with unpack) on the other side.
	BatonPullMs float64 `json:"batonPullMs"`
	CtrPullMs   float64 `json:"ctrPullMs"`
	PullRatio   float64 `json:"pullRatio"`
	// ImageBytes is one image's compressed size.
	ImageBytes int64      `json:"imageBytes"`
	Burst      PullBurst  `json:"burst"`
	Deploy     PullDeploy `json:"deploy"`

	TargetRatio     float64 `json:"targetRatio"`
	TargetPullRatio float64 `json:"targetPullRatio"`
	Met             bool    `json:"met"`
	MachineLoad     `json:",inline"`
}

// PullBurst is N cold starts of one never-seen image on one worker, at
// once, against one cold start of another never-seen image alone.
type PullBurst struct {
	N       int     `json:"n"`
	Pulls   int64   `json:"pulls"`
	P50Ms   float64 `json:"p50Ms"`
	P99Ms   float64 `json:"p99Ms"`
	AloneMs float64 `json:"aloneMs"`
	Errors  int     `json:"errors"`
}

// PullDeploy is the latency of deploys that resolve a tag against the
// local registry, against deploys of a local image (no resolution).
type PullDeploy struct {
	N          int     `json:"n"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	LocalP50Ms float64 `json:"localP50Ms"`
	LocalP99Ms float64 `json:"localP99Ms"`
}

// RunPull starts a real registry (TLS, a CA made for it) and Baton (one
// worker on containerd) and measures cold starts of never-seen images:
// each image is the echo test function flattened into one layer with a
// unique file, so that no two share a blob and every pull fetches the
// whole image.
func RunPull(ctx context.Context, opts PullOptions) (*PullReport, error) {
	if opts.N < 1 || opts.Burst < 1 || opts.Deploys < 1 {
		return nil, fmt.Errorf("pull bench: n, burst and deploys must be at least 1")
	}
	regDir, err := rundir.New("baton-reg-", func(string, ...any) {})
	if err != nil {
		return nil, err
	}
	defer regDir.Remove()
	reg, err := registryserver.Start(ctx, regDir.Path, false)
	if err != nil {
		return nil, err
	}
	defer reg.Stop()
	opts.Local.pulls.Registries = registry.Hosts{CAFile: reg.CAFile}
	b, err := startLocal(ctx, opts.Local, 30*time.Minute, nil)
	if err != nil {
		return nil, err
	}
	defer b.stopOrLog()

	// Images: N for each side, one for the burst, one for the burst's
	// lone baseline, one for the deploys, two warm-ups.
	base, err := tarball.ImageFromPath(filepath.Join(b.imgs, "testfn-ok.tar"), nil)
	if err != nil {
		return nil, fmt.Errorf("read the echo image: %w", err)
	}
	total := 2*opts.N + 5
	refs := make([]string, total)
	var size int64
	for i := range refs {
		img, n, err := registryserver.UniqueImage(base, 4096)
		if err != nil {
			return nil, err
		}
		size = n
		name := fmt.Sprintf("bench/echo-%03d:1", i)
		if _, err := reg.Push(ctx, img, name); err != nil {
			return nil, err
		}
		refs[i] = reg.Host + "/" + name
	}
	batonRefs, directRefs := refs[:opts.N], refs[opts.N:2*opts.N]
	burstRef, aloneRef, deployRef, warmBaton, warmDirect := refs[2*opts.N], refs[2*opts.N+1], refs[2*opts.N+2], refs[2*opts.N+3], refs[2*opts.N+4]

	rt, closeRT, err := b.openDirect(ctx, ctrd.Config{Registries: registry.Hosts{CAFile: reg.CAFile}})
	if err != nil {
		return nil, err
	}
	defer closeRT()
	ctr, err := newCtrPuller(b.cl.ContainerdAddress, "baton-bench-direct", filepath.Join(b.dir.Path, "ctr-hosts"), reg.Host, reg.CAFile)
	if err != nil {
		return nil, err
	}

	deployImage := func(name, ref string) error {
		_, err := b.api.Deploy(ctx, name+".yaml", []byte(echoWorkflow(name, ref, "{}")))
		return err
	}
	names := make([]string, opts.N)
	for i := range names {
		names[i] = fmt.Sprintf("bench-pull-%03d", i)
		if err := deployImage(names[i], batonRefs[i]); err != nil {
			return nil, fmt.Errorf("deploy %s: %w", names[i], err)
		}
	}
	// Warm-ups, not measured: one cold start with a pull on each side.
	if err := deployImage("bench-pull-warm", warmBaton); err != nil {
		return nil, err
	}
	if _, err := b.api.Invoke(ctx, "bench-pull-warm", []byte(`{}`)); err != nil {
		return nil, fmt.Errorf("warm-up invocation: %w", err)
	}
	if _, err := ctr.pull(ctx, warmDirect); err != nil {
		return nil, err
	}

	rep := &PullReport{N: opts.N, ImageBytes: size, TargetRatio: pullTargetRatio, TargetPullRatio: pullTargetPullRatio}
	rep.before(ctx, false)
	var ctrPulls []time.Duration
	var mu sync.Mutex
	hc := newHTTPClient()
	ids := make([]string, opts.N)
	rep.Direct = concurrently(opts.N, "ctr images pull (unpack) + worker/containerd.Runtime.Create + one POST, each of n never-seen images", func(i int) coldResult {
		t := time.Now()
		took, err := ctr.pull(ctx, directRefs[i])
		if err != nil {
			return coldResult{err: err}
		}
		mu.Lock()
		ctrPulls = append(ctrPulls, took)
		mu.Unlock()
		sb, err := directSandboxOf(ctx, rt, hc, directRefs[i])
		ids[i] = sb.ID
		return coldResult{took: time.Since(t), cs: sb.ColdStart, err: err}
	})
	for _, id := range ids {
		if id != "" {
			_ = rt.Delete(context.WithoutCancel(ctx), id)
		}
	}
	rep.Baton = coldBaton(ctx, b, names)
	rep.Baton.What = "one invocation of each of n fresh workflows, each naming its own never-seen image (pinned at deploy, pulled by the worker)"
	rep.after(ctx, false)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rep.Direct.PerSecond > 0 {
		rep.Ratio = rep.Baton.PerSecond / rep.Direct.PerSecond
	}
	rep.BatonPullMs = rep.Baton.Phases.Pull
	if len(ctrPulls) > 0 {
		var sum time.Duration
		for _, d := range ctrPulls {
			sum += d
		}
		rep.CtrPullMs = float64(sum) / float64(time.Millisecond) / float64(len(ctrPulls))
		rep.PullRatio = rep.BatonPullMs / rep.CtrPullMs
	}

	burst, err := pullBurst(ctx, b, deployImage, burstRef, aloneRef, opts.Burst)
	if err != nil {
		return nil, err
	}
	rep.Burst = burst
	if rep.Deploy, err = timeDeploys(ctx, b, deployImage, deployRef, opts.Deploys); err != nil {
		return nil, err
	}
	rep.Met = rep.Baton.Errors == 0 && rep.Direct.Errors == 0 && rep.Burst.Errors == 0 &&
		rep.Ratio >= pullTargetRatio && rep.PullRatio <= pullTargetPullRatio && rep.Burst.Pulls == pullTargetBurstPulls
	return rep, nil
}

// pullBurst cold-starts one never-seen image n times at once on the one
// worker (n workflows naming it, invoked together) and counts the worker's
// pulls; then one cold start of another never-seen image alone.
func pullBurst(ctx context.Context, b *localBaton, deploy func(name, ref string) error, ref, aloneRef string, n int) (PullBurst, error) {
	out := PullBurst{N: n}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("bench-burst-%03d", i)
		if err := deploy(names[i], ref); err != nil {
			return out, fmt.Errorf("deploy %s: %w", names[i], err)
		}
	}
	if err := deploy("bench-alone", aloneRef); err != nil {
		return out, err
	}
	w := b.cl.Workers[0]
	before, _, _ := w.PullStats()
	side := coldBaton(ctx, b, names)
	after, _, _ := w.PullStats()
	out.Pulls, out.Errors = after-before, side.Errors
	out.P50Ms, out.P99Ms = side.Latency.P50Ms, side.Latency.P99Ms
	alone := coldBaton(ctx, b, []string{"bench-alone"})
	out.Errors += alone.Errors
	out.AloneMs = alone.Latency.P50Ms
	return out, nil
}

// timeDeploys times n deploys of a workflow whose image is a registry tag
// (each resolved to its digest) and n of one with a local image.
func timeDeploys(ctx context.Context, b *localBaton, deploy func(name, ref string) error, ref string, n int) (PullDeploy, error) {
	out := PullDeploy{N: n}
	timeIt := func(name, ref string) (simcluster.Latency, error) {
		lat := make([]time.Duration, 0, n)
		for range n {
			t := time.Now()
			if err := deploy(name, ref); err != nil {
				return simcluster.Latency{}, fmt.Errorf("deploy %s: %w", name, err)
			}
			lat = append(lat, time.Since(t))
		}
		return simcluster.Summarize(lat), nil
	}
	remote, err := timeIt("bench-deploy-remote", ref)
	if err != nil {
		return out, err
	}
	local, err := timeIt("bench-deploy-local", echoImage)
	if err != nil {
		return out, err
	}
	out.P50Ms, out.P99Ms, out.LocalP50Ms, out.LocalP99Ms = remote.P50Ms, remote.P99Ms, local.P50Ms, local.P99Ms
	return out, nil
}

// echoWorkflow is a one-stage workflow running image as the echo function
// with fixed limits and env (a YAML flow mapping) as its environment.
func echoWorkflow(name, image, env string) string {
	return fmt.Sprintf(`apiVersion: baton.dev/v1
kind: Workflow
metadata:
  name: %s
spec:
  functions:
    echo:
      image: %s
      resources: {cpu: 1000m, memory: 128Mi}
      env: %s
  stages:
    - {name: echo, function: echo, timeout: 60s}
`, name, image, env)
}

// directSandboxOf is directSandbox with another image.
func directSandboxOf(ctx context.Context, rt *ctrd.Runtime, hc *http.Client, image string) (worker.Sandbox, error) {
	var id [6]byte
	_, _ = rand.Read(id[:])
	sb, err := rt.Create(ctx, worker.SandboxSpec{
		ID: fmt.Sprintf("bench-%x", id), Function: "bench/direct/echo", Image: image,
		CPUMilli: 1000, MemoryBytes: 128 << 20, HealthTimeout: time.Minute,
	})
	if err != nil {
		return worker.Sandbox{}, err
	}
	if _, err := directPoster(hc, []string{sb.Endpoint}, []byte(`{}`))(ctx); err != nil {
		_ = rt.Delete(context.WithoutCancel(ctx), sb.ID)
		return worker.Sandbox{}, err
	}
	return sb, nil
}

// ctrPuller runs containerd's own CLI, `ctr images pull`, the baseline.
type ctrPuller struct {
	address, namespace, hostsDir string
}

// newCtrPuller configures ctr to reach host over TLS trusting ca (ctr
// would try a 127.0.0.1 registry over plain HTTP) in a hosts directory.
func newCtrPuller(address, namespace, hostsDir, host, ca string) (ctrPuller, error) {
	dir := filepath.Join(hostsDir, host)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ctrPuller{}, err
	}
	conf := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = %q\n", "https://"+host, "https://"+host, ca)
	if err := os.WriteFile(filepath.Join(dir, "hosts.toml"), []byte(conf), 0o600); err != nil {
		return ctrPuller{}, err
	}
	return ctrPuller{address: address, namespace: namespace, hostsDir: hostsDir}, nil
}

// pull runs one `ctr images pull` (which unpacks) and times it.
func (c ctrPuller) pull(ctx context.Context, ref string) (time.Duration, error) {
	t := time.Now()
	out, err := exec.CommandContext(ctx, "ctr", "--address", c.address, "--namespace", c.namespace,
		"images", "pull", "--hosts-dir", c.hostsDir, ref).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ctr images pull %s: %w: %s", ref, err, lastLine(out))
	}
	return time.Since(t), nil
}

func lastLine(b []byte) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(lines[len(lines)-1])
}

// WriteTable prints the report: the two sides, the pull phase against
// ctr's, the burst and the deploys.
func (r *PullReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "cold starts of never-seen images (%d at once per side, %.1f MB each)\n", r.N, float64(r.ImageBytes)/1e6)
	fmt.Fprintln(tw, "SIDE\tPER SECOND\tP50 (ms)\tP99 (ms)\tPULL (ms, mean)\tERRORS")
	fmt.Fprintf(tw, "ctr pull + Runtime.Create\t%.1f\t%.0f\t%.0f\t%.0f\t%d\n", r.Direct.PerSecond, r.Direct.Latency.P50Ms, r.Direct.Latency.P99Ms, r.CtrPullMs, r.Direct.Errors)
	fmt.Fprintf(tw, "Baton\t%.1f\t%.0f\t%.0f\t%.0f\t%d\n", r.Baton.PerSecond, r.Baton.Latency.P50Ms, r.Baton.Latency.P99Ms, r.BatonPullMs, r.Baton.Errors)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "throughput ratio %.2f (target >= %.1f); pull phase / ctr pull %.2f (target <= %.1f)\n", r.Ratio, r.TargetRatio, r.PullRatio, r.TargetPullRatio)
	fmt.Fprintf(w, "burst: %d cold starts of one never-seen image: %d pull(s) (target 1), p50 %.0f ms, p99 %.0f ms; one alone %.0f ms; %d errors\n",
		r.Burst.N, r.Burst.Pulls, r.Burst.P50Ms, r.Burst.P99Ms, r.Burst.AloneMs, r.Burst.Errors)
	fmt.Fprintf(w, "deploy with tag resolution (%d): p50 %.1f ms, p99 %.1f ms; with a local image p50 %.1f ms, p99 %.1f ms\n",
		r.Deploy.N, r.Deploy.P50Ms, r.Deploy.P99Ms, r.Deploy.LocalP50Ms, r.Deploy.LocalP99Ms)
	fmt.Fprintf(w, "%s\nmet: %s\n", r.MachineLoad, verdict(r.Met))
	return nil
}

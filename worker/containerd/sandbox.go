package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"syscall"
	"time"

	runc1options "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/pkg/cap"
	"github.com/containerd/containerd/plugin"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/reference/docker"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"baton.dev/baton/internal/localfs"
	"baton.dev/baton/registry"
	"baton.dev/baton/worker"
)

// Timeouts of the sandbox life cycle.
const (
	defaultHealthTimeout = 30 * time.Second
	stopGrace            = 2 * time.Second  // SIGTERM to SIGKILL
	killWait             = 10 * time.Second // SIGKILL to exit
	undoTimeout          = 30 * time.Second // cleanup after a failed Create
)

// Create starts a sandbox: image, container with the limits in its OCI
// spec, network namespace on the bridge, task; then it waits for
// GET /healthz to answer 200. On any error it removes what it made.
func (r *Runtime) Create(ctx context.Context, spec worker.SandboxSpec) (worker.Sandbox, error) {
	if err := spec.Validate(); err != nil {
		return worker.Sandbox{}, err
	}
	if !r.busy.Try(spec.ID) {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w (an operation on it is under way)", spec.ID, worker.ErrExists)
	}
	defer r.busy.Release(spec.ID)
	ctx = r.ctx(ctx)
	if _, err := r.client.ContainerService().Get(ctx, spec.ID); err == nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, worker.ErrExists)
	} else if !errdefs.IsNotFound(err) {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: look up container: %w", spec.ID, err)
	}

	var undo []func(context.Context) error
	ok := false
	defer func() {
		if ok {
			return
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		defer cancel()
		for i := len(undo) - 1; i >= 0; i-- {
			if err := undo[i](uctx); err != nil {
				r.log.Error("sandbox: cleanup after a failed create", "id", spec.ID, "err", err)
			}
		}
	}()

	begin := time.Now()
	var cs worker.ColdStart
	mark := func(phase *time.Duration) {
		*phase = time.Since(begin) - cs.Pull - cs.Image - cs.Create - cs.Network - cs.Start - cs.Healthy
	}

	unpin, pulled, err := r.ensurePulled(ctx, spec)
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, err)
	}
	cs.PullBytes = pulled
	defer unpin() // the container, once made, keeps the image in use
	mark(&cs.Pull)
	img, err := r.image(ctx, spec.Image)
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, err)
	}
	mark(&cs.Image)

	// The namespace exists before the container so its path can go into
	// the spec; it is attached to the bridge after the container is made.
	if _, err := os.Stat(r.net.nsPath(spec.ID)); err == nil {
		// A crash between making the namespace and the container left it.
		if err := r.net.teardown(ctx, spec.ID); err != nil {
			r.log.Warn("sandbox: tear down a stale network", "id", spec.ID, "err", err)
		}
		if err := r.net.removeNS(spec.ID); err != nil {
			return worker.Sandbox{}, fmt.Errorf("sandbox %s: stale network namespace: %w", spec.ID, err)
		}
	}
	nsPath, err := r.net.createNS(spec.ID)
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, err)
	}
	undo = append(undo, func(context.Context) error { return r.net.removeNS(spec.ID) })
	runtimeOpt, err := r.runtimeFor(spec)
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, err)
	}
	container, err := r.client.NewContainer(ctx, spec.ID, runtimeOpt,
		containerd.WithImage(img),
		containerd.WithSnapshotter(r.cfg.Snapshotter),
		containerd.WithNewSnapshot(spec.ID, img),
		containerd.WithContainerLabels(labelsOf(spec)),
		containerd.WithNewSpec(append(specOpts(img, spec, nsPath), r.hardening(spec)...)...),
	)
	if errdefs.IsAlreadyExists(err) {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, worker.ErrExists)
	}
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: create container: %w", spec.ID, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		return ignoreNotFound(container.Delete(ctx, containerd.WithSnapshotCleanup))
	})
	mark(&cs.Create)

	undo = append(undo, func(ctx context.Context) error { return r.net.teardown(ctx, spec.ID) })
	at, err := r.net.setup(ctx, spec.ID)
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, err)
	}
	endpoint := fmt.Sprintf("http://%s:%d", at.ip, Port)
	if _, err := container.SetLabels(ctx, map[string]string{labelEndpoint: endpoint, labelVeth: at.veth}); err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: label endpoint: %w", spec.ID, err)
	}
	if spec.Egress == worker.EgressInternet {
		// The rules go before the IP is released (undo runs backwards).
		undo = append(undo, func(context.Context) error { return r.denyEgress(at.ip) })
		if err := r.allowEgress(spec.ID, at); err != nil {
			return worker.Sandbox{}, fmt.Errorf("sandbox %s: egress: %w", spec.ID, err)
		}
	}
	mark(&cs.Network)

	logPath := r.logPath(spec.ID)
	undo = append(undo, func(context.Context) error { return localfs.RemoveIfExists(logPath) })
	task, err := container.NewTask(ctx, cio.LogFile(logPath))
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: create task: %w", spec.ID, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		_, err := task.Delete(ctx, containerd.WithProcessKill)
		return ignoreNotFound(err)
	})
	exited, err := task.Wait(ctx)
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: wait on task: %w", spec.ID, err)
	}
	if err := task.Start(ctx); err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: start task: %w", spec.ID, err)
	}
	mark(&cs.Start)

	timeout := spec.HealthTimeout
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	verify := func(c worker.Conn) error { return r.verify(spec.ID, c) }
	if err := waitHealthy(ctx, endpoint, timeout, exited, verify); err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s (image %s): %w; its output ends with:\n%s", spec.ID, spec.Image, err, logTail(logPath))
	}
	mark(&cs.Healthy)
	cs.Total = time.Since(begin)
	ok = true
	r.log.Info("sandbox created", "id", spec.ID, "function", spec.Function, "image", spec.Image,
		"endpoint", endpoint, "cold_start", cs.Total, "image_phase", cs.Image, "create", cs.Create,
		"network", cs.Network, "start", cs.Start, "healthy", cs.Healthy)
	return worker.Sandbox{
		ID: spec.ID, Function: spec.Function, Image: spec.Image, CPUMilli: spec.CPUMilli,
		MemoryBytes: spec.MemoryBytes, Endpoint: endpoint, ColdStart: cs, Created: begin,
	}, nil
}

// Verify checks that connection c ends in sandbox id's network namespace:
// the kernel's socket table there must hold it. Something else answering
// at the sandbox's address (a sandbox a dead worker left on the bridge
// with the same IP, a foreign namespace given that IP) holds the
// connection in its own namespace, not in this one.
func (r *Runtime) Verify(ctx context.Context, id string, c worker.Conn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.verify(id, c)
}

func (r *Runtime) verify(id string, c worker.Conn) error {
	ok, err := r.net.holds(id, c)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("sandbox %s: %w: its network namespace has no connection %s", id, worker.ErrIdentity, c)
	}
	return nil
}

// labelsOf is a new sandbox's container labels: what List and a
// restarted worker rebuild it from.
func labelsOf(spec worker.SandboxSpec) map[string]string {
	l := map[string]string{
		labelFunction: spec.Function,
		labelCPU:      strconv.FormatInt(spec.CPUMilli, 10),
		labelMemory:   strconv.FormatInt(spec.MemoryBytes, 10),
	}
	if spec.Egress != "" {
		l[labelEgress] = spec.Egress
	}
	return l
}

// allowEgress gives the sandbox attached at at a default route out and
// the firewall's egress rules (none on an unhardened runtime, which has
// no firewall).
func (r *Runtime) allowEgress(id string, at attachment) error {
	if err := r.net.routeOut(id, at.gateway); err != nil {
		return err
	}
	if r.cfg.Unhardened {
		return nil
	}
	return r.fw.AllowEgress(r.cfg.Bridge, at.ip)
}

// denyEgress removes the egress rules of the sandbox at ip.
func (r *Runtime) denyEgress(ip net.IP) error {
	if r.cfg.Unhardened {
		return nil
	}
	return r.fw.DenyEgress(r.cfg.Bridge, ip)
}

// egressIP is the IP of a sandbox with egress, from its labels; nil for
// one without egress or without an address yet.
func egressIP(labels map[string]string) net.IP {
	if labels[labelEgress] != worker.EgressInternet {
		return nil
	}
	u, err := url.Parse(labels[labelEndpoint])
	if err != nil {
		return nil
	}
	return net.ParseIP(u.Hostname()).To4()
}

// Hardening of every sandbox: the function is treated as hostile.
const (
	// unprivilegedUID runs an image that names no USER (nobody).
	unprivilegedUID = 65534
	// pidsLimit bounds a sandbox's processes and threads: a fork bomb
	// stops there, not at the machine's limit.
	pidsLimit = 512
	// openFilesLimit bounds a sandbox's open files.
	openFilesLimit = 4096
)

// hardening is what every sandbox runs under: the image's USER, or an
// unprivileged uid when it names none (never root); no capabilities (an
// HTTP server on $PORT needs none, and without NET_RAW nothing spoofs on
// the bridge); containerd's default seccomp profile less ptrace
// (withoutPtrace); no new privileges; a read-only root filesystem with a
// writable /tmp of at most a quarter of the sandbox's memory (the tmpfs
// counts against it); and limits on processes and open files.
//
// The spec's privileges, which the orchestrator sends only where its
// operator allows them, change two of these: the process holds exactly
// the capabilities asked for (withCapabilities; seccomp's profile then
// allows the calls they need, as Docker's does, ptrace still excepted),
// and runs as uid 0 when it asks to run as root. No new privileges stays.
func (r *Runtime) hardening(spec worker.SandboxSpec) []oci.SpecOpts {
	if r.cfg.Unhardened {
		return nil
	}
	user := withoutRoot
	if spec.RunAsRoot {
		user = withRoot
	}
	return []oci.SpecOpts{
		oci.WithNoNewPrivileges,
		withCapabilities(spec.Capabilities, spec.RunAsRoot),
		seccomp.WithDefaultProfile(), // after the capabilities: it reads them
		withoutPtrace,
		oci.WithRootFSReadonly(),
		oci.WithPidsLimit(pidsLimit),
		oci.WithMounts([]specs.Mount{{
			Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "mode=1777", "size=" + strconv.FormatInt(tmpSize(spec.MemoryBytes), 10)},
		}}),
		withOpenFilesLimit(openFilesLimit),
		user,
	}
}

// withCapabilities gives the process exactly caps (names without CAP_;
// none when empty) in its bounding, effective and permitted sets. A
// process that is not root keeps permitted and effective capabilities
// across the execve of the function only as ambient ones (which must be
// inheritable too), so those two sets hold caps as well for it; root's
// are recomputed from the bounding set and need neither. Unknown names
// are refused.
func withCapabilities(caps []string, root bool) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		known := cap.Known()
		full := make([]string, 0, len(caps))
		for _, name := range caps {
			if !slices.Contains(known, "CAP_"+name) {
				return fmt.Errorf("capability %q: %w: this machine's kernel does not know it", name, worker.ErrUnsupported)
			}
			full = append(full, "CAP_"+name)
		}
		if err := oci.WithCapabilities(full)(ctx, client, c, s); err != nil {
			return err
		}
		if root || len(full) == 0 {
			return oci.WithAmbientCapabilities(nil)(ctx, client, c, s)
		}
		return oci.WithAmbientCapabilities(full)(ctx, client, c, s) // inheritable too
	}
}

// withRoot runs the process as uid and gid 0: only for a spec that asks
// to run as root.
func withRoot(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	s.Process.User = specs.User{UID: 0, GID: 0}
	return nil
}

// ptraceCalls are the system calls that read or change another
// process's memory and registers.
var ptraceCalls = []string{"ptrace", "process_vm_readv", "process_vm_writev"}

// withoutPtrace takes ptraceCalls out of the seccomp profile's allowed
// calls and makes them fail with EPERM: containerd's default profile
// allows them on kernels from 4.8, and a process may trace its own
// children without any capability. A function has no use for tracing,
// and ptrace is a classic way around a seccomp filter and into the
// kernel's bugs.
func withoutPtrace(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return errors.New("no seccomp profile to take ptrace out of")
	}
	sc := s.Linux.Seccomp
	rules := sc.Syscalls[:0]
	for _, rule := range sc.Syscalls {
		if rule.Action == specs.ActAllow {
			rule.Names = slices.DeleteFunc(slices.Clone(rule.Names), func(n string) bool { return slices.Contains(ptraceCalls, n) })
			if len(rule.Names) == 0 {
				continue
			}
		}
		rules = append(rules, rule)
	}
	eperm := uint(syscall.EPERM)
	sc.Syscalls = append(rules, specs.LinuxSyscall{Names: ptraceCalls, Action: specs.ActErrno, ErrnoRet: &eperm})
	return nil
}

// withoutRoot runs the process as unprivilegedUID when the image's USER
// (which oci.WithImageConfig resolved before it) is root or none.
func withoutRoot(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	if s.Process.User.UID == 0 {
		s.Process.User = specs.User{UID: unprivilegedUID, GID: unprivilegedUID}
	}
	return nil
}

// runtimeFor is the containerd runtime of spec's isolation: runc's shim
// running runc, with runc's state under the runtime's own state directory
// (so that a sweep of a killed worker's directory takes it along, instead
// of leaving it in containerd's /run/containerd/runc forever).
//
// gVisor is refused with the reason: Debian's runsc (20221219) ships no
// containerd shim (containerd-shim-runsc-v1), and runsc run by runc's
// shim in runc's place starts its sandbox process outside the sandbox's
// network namespace and refuses to run ("cannot run with network enabled
// in root network namespace"), leaving a container it cannot kill.
func (r *Runtime) runtimeFor(spec worker.SandboxSpec) (containerd.NewContainerOpts, error) {
	switch spec.Isolation {
	case "":
		return containerd.WithRuntime(plugin.RuntimeRuncV2, &runc1options.Options{Root: filepath.Join(r.cfg.StateDir, "runc")}), nil
	case worker.IsolationGVisor:
		return nil, fmt.Errorf("isolation gvisor: %w: this worker has no containerd shim for runsc (containerd-shim-runsc-v1; Debian's runsc package has none), and runsc under runc's shim cannot join the sandbox's network namespace", worker.ErrUnsupported)
	default:
		return nil, fmt.Errorf("isolation %q: want gvisor or nothing", spec.Isolation)
	}
}

// tmpSize is the size of a sandbox's /tmp: a quarter of its memory, at
// least 16 MiB (64 MiB without a memory limit).
func tmpSize(memory int64) int64 {
	if memory <= 0 {
		return 64 << 20
	}
	return max(memory/4, 16<<20)
}

// withOpenFilesLimit sets RLIMIT_NOFILE, replacing the default spec's (a
// second entry would be applied after the first, and raising a hard limit
// needs a capability the sandbox does not have).
func withOpenFilesLimit(n uint64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.Rlimits = slices.DeleteFunc(s.Process.Rlimits, func(l specs.POSIXRlimit) bool { return l.Type == "RLIMIT_NOFILE" })
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: n, Soft: n})
		return nil
	}
}

// specOpts builds the OCI spec: the image's entrypoint and environment,
// PORT and the spec's environment, the CFS quota and memory limit, the
// cgroup /baton/<id> and the sandbox's network namespace.
func specOpts(img containerd.Image, spec worker.SandboxSpec, nsPath string) []oci.SpecOpts {
	env := []string{"PORT=" + strconv.Itoa(Port)}
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "PORT" {
			env = append(env, k+"="+spec.Env[k])
		}
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithEnv(env),
		oci.WithHostname(spec.ID),
		oci.WithCgroup(cgroupOf(spec.ID)),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: nsPath}),
	}
	if spec.CPUMilli > 0 {
		// The quota caps the sandbox; its shares (1024 a core) keep its
		// part of an over-committed CPU proportional to its limit.
		opts = append(opts, oci.WithCPUCFS(spec.CPUMilli*cfsPeriod/1000, cfsPeriod), oci.WithCPUShares(uint64(max(spec.CPUMilli*1024/1000, 2))))
	}
	if spec.MemoryBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(spec.MemoryBytes)))
	}
	return opts
}

// ensurePulled pulls spec's image from its registry when this worker does
// not have it yet; local images (baton.local) are never pulled. The image
// stays pinned in the image cache, safe from removal, until unpin is
// called: after the container is made, or the creation failed. On an
// error it is not pinned.
func (r *Runtime) ensurePulled(ctx context.Context, spec worker.SandboxSpec) (unpin func(), pulled int64, err error) {
	if registry.Local(spec.Image) {
		return func() {}, 0, nil
	}
	ref, err := registry.Normalize(spec.Image)
	if err != nil {
		return func() {}, 0, err
	}
	unpin = r.cache.pin(ref)
	if _, err := r.client.GetImage(ctx, ref); err == nil {
		return unpin, 0, nil
	} else if !errdefs.IsNotFound(err) {
		unpin()
		return func() {}, 0, fmt.Errorf("image %q: %w", ref, err)
	}
	pulled, err = r.pulls.Pull(ctx, ref, spec.PullAuth)
	if err != nil {
		unpin()
		return func() {}, 0, err
	}
	return unpin, pulled, nil
}

// image returns the image ref, unpacked for the snapshotter.
func (r *Runtime) image(ctx context.Context, ref string) (containerd.Image, error) {
	img, err := r.client.GetImage(ctx, ref)
	if errdefs.IsNotFound(err) {
		// Accept the short forms a person would type ("alpine:3").
		if named, perr := docker.ParseDockerRef(ref); perr == nil && named.String() != ref {
			img, err = r.client.GetImage(ctx, named.String())
		}
	}
	if errdefs.IsNotFound(err) {
		return nil, r.imageNotFound(ctx, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	unpacked, err := img.IsUnpacked(ctx, r.cfg.Snapshotter)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	if !unpacked {
		if err := img.Unpack(ctx, r.cfg.Snapshotter); err != nil {
			return nil, fmt.Errorf("image %q: unpack: %w", ref, err)
		}
	}
	return img, nil
}

// Delete stops the sandbox's task (SIGTERM, SIGKILL after a short grace),
// deletes it, detaches the network and releases the IP, removes the
// network namespace, and deletes the container and its snapshot. An
// unknown ID gives an error wrapping worker.ErrNotFound. A Delete that
// failed halfway can be retried.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if err := r.busy.Wait(ctx, id); err != nil {
		return err
	}
	defer r.busy.Release(id)
	ctx = r.ctx(ctx)
	container, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("sandbox %s: %w", id, worker.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sandbox %s: load container: %w", id, err)
	}
	if err := stopTask(ctx, container); err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	// Its egress rules go before its IP is released: once released, the
	// IP may be another sandbox's.
	labels, err := container.Labels(ctx)
	if ignoreNotFound(err) != nil {
		return fmt.Errorf("sandbox %s: labels: %w", id, err)
	}
	if ip := egressIP(labels); ip != nil {
		if err := r.denyEgress(ip); err != nil {
			return fmt.Errorf("sandbox %s: %w", id, err)
		}
	}
	if err := r.net.teardown(ctx, id); err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	if err := r.net.removeNS(id); err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	if err := container.Delete(ctx, containerd.WithSnapshotCleanup); ignoreNotFound(err) != nil {
		return fmt.Errorf("sandbox %s: delete container: %w", id, err)
	}
	if err := localfs.RemoveIfExists(r.logPath(id)); err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	r.log.Info("sandbox deleted", "id", id)
	r.cache.collect(ctx, "delete of sandbox "+id)
	return nil
}

// stopTask stops and deletes the container's task, if it has one.
func stopTask(ctx context.Context, container containerd.Container) error {
	task, err := container.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load task: %w", err)
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("wait on task: %w", err)
	}
	if err := task.Kill(ctx, syscall.SIGTERM); err == nil {
		select {
		case <-exited:
		case <-time.After(stopGrace):
			if err := task.Kill(ctx, syscall.SIGKILL); ignoreNotFound(err) != nil {
				return fmt.Errorf("kill task: %w", err)
			}
			select {
			case <-exited:
			case <-time.After(killWait):
				return errors.New("task did not exit after SIGKILL")
			}
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop task: %w", err)
	}
	if _, err := task.Delete(ctx, containerd.WithProcessKill); ignoreNotFound(err) != nil {
		return fmt.Errorf("delete task: %w", err)
	}
	return nil
}

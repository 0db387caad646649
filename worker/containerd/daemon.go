package containerd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"baton.dev/baton/backoff"
	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
)

// maxSocketPath is the longest unix socket path the daemon may use: the
// kernel limit is 108 bytes with the terminating NUL, and containerd adds
// ".ttrpc" for its second socket.
const maxSocketPath = 100

// Daemon is a private containerd started by StartDaemon: its own root,
// state and socket, so it does not touch a system containerd.
type Daemon struct {
	cmd     *exec.Cmd
	dir     string
	address string
	sockDir string // set when the socket lives outside dir (a short path)
	logger  *slog.Logger
	exited  chan struct{}
	waitErr error
}

// StartDaemon starts the containerd binary found on $PATH with a generated
// configuration under dir (root dir/root, state dir/state, socket
// dir/containerd.sock or, when that path is too long for a unix socket,
// /run/baton-<hash>/containerd.sock), the CRI and other unneeded plugins
// disabled. It returns once a client can talk to the daemon. Its log goes
// to dir/containerd.log.
func StartDaemon(ctx context.Context, dir string, logger *slog.Logger) (*Daemon, error) {
	if logger == nil {
		logger = slog.Default()
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("start containerd: the containerd binary is not installed (apt-get install containerd, or make deps): %w", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	d := &Daemon{dir: dir, logger: logger, exited: make(chan struct{})}
	d.address = filepath.Join(dir, "containerd.sock")
	if len(d.address) > maxSocketPath {
		d.sockDir = SocketDir(dir)
		if err := os.MkdirAll(d.sockDir, 0o700); err != nil {
			return nil, fmt.Errorf("start containerd: socket directory: %w", err)
		}
		d.address = filepath.Join(d.sockDir, "containerd.sock")
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(daemonConfig(dir, d.address)), 0o644); err != nil {
		return nil, fmt.Errorf("start containerd: write config: %w", err)
	}
	logPath := filepath.Join(dir, "containerd.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	d.cmd = exec.Command(bin, "--config", cfgPath)
	d.cmd.Stdout = logFile
	d.cmd.Stderr = logFile
	// Its own process group, so a Ctrl-C to the parent reaches it only
	// through Stop.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd %s: %w", bin, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	logger.Info("containerd starting", "pid", d.cmd.Process.Pid, "address", d.address, "dir", dir)
	if err := d.waitReady(ctx, logPath); err != nil {
		_ = d.Stop(context.Background())
		return nil, err
	}
	return d, nil
}

// SocketDir is where StartDaemon(dir) puts its socket when dir's own path
// is too long for one: /run/baton-<hash of dir>.
func SocketDir(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "/run/baton-" + hex.EncodeToString(sum[:6])
}

// waitReady polls until a client is served, the daemon exits, or 30 s pass.
func (d *Daemon) waitReady(ctx context.Context, logPath string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	poll := backoff.Exponential{Base: 5 * time.Millisecond, Max: 200 * time.Millisecond}
	for attempt := 1; ; attempt++ {
		select {
		case <-d.exited:
			return fmt.Errorf("start containerd: it exited (%v); its log %s ends with:\n%s", d.waitErr, logPath, logTail(logPath))
		case <-ctx.Done():
			return fmt.Errorf("start containerd: not serving on %s: %w; its log %s ends with:\n%s", d.address, ctx.Err(), logPath, logTail(logPath))
		case <-time.After(poll.Delay(attempt)):
		}
		if _, err := os.Stat(d.address); err != nil {
			continue
		}
		client, err := containerd.New(d.address, containerd.WithTimeout(time.Second))
		if err != nil {
			continue
		}
		serving, err := client.IsServing(ctx)
		client.Close()
		if err == nil && serving {
			return nil
		}
	}
}

// Address is the daemon's gRPC socket path, for containerd.New or Config.Address.
func (d *Daemon) Address() string { return d.address }

// Stop kills every task still running on this private daemon (so no shim
// outlives it), then stops the daemon: SIGTERM, and SIGKILL if it has not
// exited within 10 s or when ctx ends.
func (d *Daemon) Stop(ctx context.Context) error {
	select {
	case <-d.exited:
	default:
		if err := d.killTasks(ctx); err != nil {
			d.logger.Warn("containerd: killing leftover tasks", "err", err)
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-d.exited:
		case <-timer.C:
			_ = d.cmd.Process.Kill()
			<-d.exited
		case <-ctx.Done():
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	}
	if d.sockDir != "" {
		if err := os.RemoveAll(d.sockDir); err != nil {
			return fmt.Errorf("stop containerd: %w", err)
		}
	}
	d.logger.Info("containerd stopped", "address", d.address)
	return nil
}

// killTasks kills and deletes every task in every namespace, so that their
// shims exit. Containers and snapshots stay: they die with the daemon's
// root directory.
func (d *Daemon) killTasks(ctx context.Context) error {
	client, err := containerd.New(d.address, containerd.WithTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer client.Close()
	nss, err := client.NamespaceService().List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		containers, err := client.Containers(nctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range containers {
			task, err := c.Task(nctx, nil)
			if err != nil {
				continue // no task
			}
			if _, err := task.Delete(nctx, containerd.WithProcessKill); err != nil {
				errs = append(errs, fmt.Errorf("task %s/%s: %w", ns, c.ID(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// daemonConfig is a containerd 1.6/1.7 configuration (version 2) for a
// private daemon that starts fast: no CRI, no unused snapshotters, no
// metrics or debug listeners.
func daemonConfig(dir, address string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), address, address+".ttrpc", filepath.Join(dir, "opt"))
}

// logTail returns the last few KiB of the file at path.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const keep = 4096
	if len(b) > keep {
		b = b[len(b)-keep:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "(nothing)"
	}
	return string(b)
}

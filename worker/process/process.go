// Package process is a sandbox runtime for machines without containerd: it
// extracts each image's filesystem once and runs its entrypoint directly as
// a local process listening on a free localhost port.
//
// It gives no isolation and does NOT enforce the CPU and memory limits of a
// SandboxSpec: they are recorded and reported, nothing more. Use it for
// development and demos only.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"baton.dev/baton/internal/localfs"
	"baton.dev/baton/internal/localport"
	"baton.dev/baton/worker"
)

// Timeouts of the sandbox life cycle.
const (
	defaultHealthTimeout = 30 * time.Second
	stopGrace            = 2 * time.Second
	killWait             = 10 * time.Second
)

// Config configures a Runtime.
type Config struct {
	// ImagesDir holds docker-archive image archives (*.tar); Open reads
	// every one. Empty means none.
	ImagesDir string
	// StateDir holds the extracted image filesystems (rootfs/<digest>),
	// one state file per sandbox (sandboxes/<id>.json) and the sandboxes'
	// logs. Required.
	StateDir string
	// Logger receives the runtime's logs (slog.Default()).
	Logger *slog.Logger
}

// Runtime runs sandboxes as local processes. It implements worker.Runtime.
type Runtime struct {
	cfg    Config
	images map[string]image
	log    *slog.Logger

	mu   sync.Mutex
	busy worker.Claims // IDs being created or deleted
}

var _ worker.Runtime = (*Runtime)(nil)

// record is a sandbox's state file: enough to list it and stop it after a
// restart of the worker.
type record struct {
	Sandbox worker.Sandbox `json:"sandbox"`
	PID     int            `json:"pid"`
	// StartTime is the process's start time in clock ticks since boot
	// (/proc/PID/stat), so a reused PID is not mistaken for it.
	StartTime uint64 `json:"startTime"`
}

// Open reads the image archives in cfg.ImagesDir and extracts their
// filesystems under cfg.StateDir (once per image digest).
func Open(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("process runtime: Config.StateDir is empty")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var err error
	if cfg.StateDir, err = filepath.Abs(cfg.StateDir); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	for _, d := range []string{"rootfs", "sandboxes", "logs"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("process runtime: state directory: %w", err)
		}
	}
	r := &Runtime{cfg: cfg, images: map[string]image{}, log: cfg.Logger}
	if err := r.reconcile(); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	if cfg.ImagesDir != "" {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("process runtime: %w", err)
		}
		if r.images, err = loadImages(cfg.ImagesDir, filepath.Join(cfg.StateDir, "rootfs")); err != nil {
			return nil, fmt.Errorf("process runtime: %w", err)
		}
	}
	return r, nil
}

// reconcile removes the records of sandboxes whose process is gone (a
// machine restart, or processes killed with their worker), so that List
// reports only sandboxes that run.
func (r *Runtime) reconcile() error {
	files, err := filepath.Glob(filepath.Join(r.cfg.StateDir, "sandboxes", "*.json"))
	if err != nil {
		return err
	}
	removed := 0
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".json")
		rec, err := r.readRecord(id)
		if err == nil && alive(rec.PID, rec.StartTime) {
			continue
		}
		// Unreadable (cut short by a crash) or dead: nothing to adopt.
		if err := localfs.RemoveIfExists(f); err != nil {
			return err
		}
		if err := localfs.RemoveIfExists(r.logPath(id)); err != nil {
			return err
		}
		removed++
	}
	if removed > 0 {
		r.log.Info("removed the records of sandboxes whose process is gone", "removed", removed)
	}
	return nil
}

// Name returns "process".
func (r *Runtime) Name() string { return "process" }

// Images lists the image references read at Open.
func (r *Runtime) Images(context.Context) ([]string, error) {
	refs := make([]string, 0, len(r.images))
	for ref := range r.images {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	return refs, nil
}

// Close does nothing: sandboxes keep running and a new Runtime on the same
// StateDir finds them.
func (r *Runtime) Close() error { return nil }

// Create runs the image's entrypoint with PORT set to a free localhost port
// and returns once GET /healthz answers 200. CPUMilli and MemoryBytes are
// recorded, not enforced.
func (r *Runtime) Create(ctx context.Context, spec worker.SandboxSpec) (worker.Sandbox, error) {
	if err := spec.Validate(); err != nil {
		return worker.Sandbox{}, err
	}
	if !r.busy.Try(spec.ID) {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w (an operation on it is under way)", spec.ID, worker.ErrExists)
	}
	defer r.busy.Release(spec.ID)
	if _, err := os.Stat(r.recordPath(spec.ID)); err == nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, worker.ErrExists)
	}
	begin := time.Now()
	var cs worker.ColdStart
	img, ok := r.images[spec.Image]
	if !ok {
		have, _ := r.Images(ctx)
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: image %q: %w; this worker has: %s", spec.ID, spec.Image, worker.ErrImageNotFound, strings.Join(have, ", "))
	}
	cs.Image = time.Since(begin)

	port, err := localport.Free()
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, err)
	}
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	cs.Network = time.Since(begin) - cs.Image

	logPath := r.logPath(spec.ID)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: log: %w", spec.ID, err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(filepath.Join(img.rootfs, img.argv[0]), img.argv[1:]...)
	cmd.Dir = filepath.Join(img.rootfs, img.workDir)
	cmd.Env = environ(img.env, spec.Env, port)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: a Ctrl-C to the worker does not reach it, as
	// with containers, and Delete signals the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cs.Create = time.Since(begin) - cs.Image - cs.Network
	if err := cmd.Start(); err != nil {
		localfs.RemoveIfExists(logPath)
		return worker.Sandbox{}, fmt.Errorf("sandbox %s: start %s: %w", spec.ID, cmd.Path, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	pid := cmd.Process.Pid
	fail := func(err error) (worker.Sandbox, error) {
		_ = stop(pid, exited)
		localfs.RemoveIfExists(r.recordPath(spec.ID))
		localfs.RemoveIfExists(logPath)
		return worker.Sandbox{}, err
	}
	sb := worker.Sandbox{
		ID: spec.ID, Function: spec.Function, Image: spec.Image, CPUMilli: spec.CPUMilli,
		MemoryBytes: spec.MemoryBytes, Endpoint: endpoint, Created: begin,
	}
	start, err := startTime(pid)
	if err != nil {
		return fail(fmt.Errorf("sandbox %s: %w", spec.ID, err))
	}
	if err := r.writeRecord(record{Sandbox: sb, PID: pid, StartTime: start}); err != nil {
		return fail(fmt.Errorf("sandbox %s: %w", spec.ID, err))
	}
	cs.Start = time.Since(begin) - cs.Image - cs.Network - cs.Create

	timeout := spec.HealthTimeout
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	how := func() string { return fmt.Sprintf("ended (%v)", waitErr) }
	verify := func(c worker.Conn) error { return verifyGroup(spec.ID, pid, c) }
	if err := worker.WaitHealthy(ctx, endpoint, timeout, exited, how, verify); err != nil {
		return fail(fmt.Errorf("sandbox %s (image %s): %w", spec.ID, spec.Image, err))
	}
	cs.Total = time.Since(begin)
	cs.Healthy = cs.Total - cs.Image - cs.Network - cs.Create - cs.Start
	sb.ColdStart = cs
	r.log.Info("sandbox created", "id", spec.ID, "function", spec.Function, "image", spec.Image,
		"endpoint", endpoint, "pid", pid, "cold_start", cs.Total)
	return sb, nil
}

// environ is the image's environment, then the spec's, then PORT.
func environ(imageEnv []string, specEnv map[string]string, port int) []string {
	env := append([]string(nil), imageEnv...)
	keys := make([]string, 0, len(specEnv))
	for k := range specEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+specEnv[k])
	}
	// Later entries win in exec's de-duplication.
	return append(env, "PORT="+strconv.Itoa(port))
}

// Delete stops the sandbox's process group (SIGTERM, SIGKILL after a short
// grace) and removes its state and log. An unknown ID gives an error
// wrapping worker.ErrNotFound.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if err := r.busy.Wait(ctx, id); err != nil {
		return err
	}
	defer r.busy.Release(id)
	rec, err := r.readRecord(id)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sandbox %s: %w", id, worker.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	if alive(rec.PID, rec.StartTime) {
		if err := stop(rec.PID, nil); err != nil {
			return fmt.Errorf("sandbox %s: %w", id, err)
		}
	}
	if err := localfs.RemoveIfExists(r.recordPath(id)); err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	if err := localfs.RemoveIfExists(r.logPath(id)); err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	r.log.Info("sandbox deleted", "id", id)
	return nil
}

// List returns the sandboxes recorded in StateDir, including ones started
// before a restart; sandboxes being created or deleted are left out.
func (r *Runtime) List(context.Context) ([]worker.Sandbox, error) {
	files, err := filepath.Glob(filepath.Join(r.cfg.StateDir, "sandboxes", "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var out []worker.Sandbox
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".json")
		if r.busy.Held(id) {
			continue
		}
		rec, err := r.readRecord(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list sandboxes: %w", err)
		}
		out = append(out, rec.Sandbox)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Sweep deletes every sandbox recorded in StateDir.
func (r *Runtime) Sweep(ctx context.Context) error {
	all, err := r.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, sb := range all {
		if err := r.Delete(ctx, sb.ID); err != nil && !errors.Is(err, worker.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Runtime) recordPath(id string) string {
	return filepath.Join(r.cfg.StateDir, "sandboxes", id+".json")
}

func (r *Runtime) logPath(id string) string {
	return filepath.Join(r.cfg.StateDir, "logs", id+".log")
}

// writeRecord writes a sandbox's state file atomically.
func (r *Runtime) writeRecord(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	path := r.recordPath(rec.Sandbox.ID)
	if err := localfs.WriteFileAtomic(path, b, 0o600); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

func (r *Runtime) readRecord(id string) (record, error) {
	var rec record
	b, err := os.ReadFile(r.recordPath(id))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("state file %s: %w", r.recordPath(id), err)
	}
	return rec, nil
}

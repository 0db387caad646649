package containerd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/containerd/errdefs"

	"baton.dev/baton/worker"
)

var _ worker.ExitReporter = (*Runtime)(nil)

// cgroupRoot is where the cgroup hierarchies are mounted: one directory
// per controller under cgroup v1, the unified hierarchy itself under v2.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupOf is sandbox id's cgroup path, relative to each hierarchy's root
// (the OCI spec's cgroupsPath).
func cgroupOf(id string) string { return "/baton/" + id }

// Exit says why sandbox id's function stopped answering. OutOfMemory is
// read from the kernel's count of OOM kills in the sandbox's memory
// cgroup (oom_kill in memory.oom_control under cgroup v1, in
// memory.events under v2). The kernel counts a kill before the process
// dies, so the count is there as soon as a caller sees its connection
// break, without waiting for containerd's /tasks/oom event or for the
// task's exit; and the cgroup stays until the sandbox is deleted.
func (r *Runtime) Exit(ctx context.Context, id string) (worker.ExitReason, error) {
	if err := ctx.Err(); err != nil {
		return worker.ExitReason{}, err
	}
	if _, err := r.client.ContainerService().Get(r.ctx(ctx), id); errdefs.IsNotFound(err) {
		return worker.ExitReason{}, fmt.Errorf("sandbox %s: %w", id, worker.ErrNotFound)
	} else if err != nil {
		return worker.ExitReason{}, fmt.Errorf("sandbox %s: look up container: %w", id, err)
	}
	kills, err := oomKills(id)
	if err != nil {
		return worker.ExitReason{}, fmt.Errorf("sandbox %s: %w", id, err)
	}
	return worker.ExitReason{OutOfMemory: kills > 0}, nil
}

// oomKills is how many processes the kernel's OOM killer killed in
// sandbox id's memory cgroup; 0 when the cgroup is gone (the task was
// deleted).
func oomKills(id string) (uint64, error) {
	for _, f := range []string{
		filepath.Join(cgroupRoot, "memory", cgroupOf(id), "memory.oom_control"), // v1
		filepath.Join(cgroupRoot, cgroupOf(id), "memory.events"),                // v2
	} {
		n, err := readCgroupKey(f, "oom_kill")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return n, err
	}
	return 0, nil
}

// readCgroupKey reads the value of key in a cgroup file of "key value"
// lines.
func readCgroupKey(path, key string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, fmt.Errorf("%s has no %s (a kernel older than 4.13 does not count OOM kills)", path, key)
}

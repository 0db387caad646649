package containerd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/machine"
)

// Reconciled counts what Open found of an earlier incarnation of the
// runtime (the same state directory): the sandboxes it kept, and what it
// removed because no running sandbox could account for it.
type Reconciled struct {
	// Kept are sandboxes whose task still runs; List reports them and
	// the worker adopts them.
	Kept int
	// Containers removed: their task is gone (its shim died) or they
	// never got an endpoint (a crash mid-create).
	Containers int
	// Namespaces removed: network namespace mounts of no container.
	Namespaces int
	// Reservations removed: host-local IPAM reservations of no running
	// sandbox, which would keep an address that nothing serves or, worse,
	// let it be handed out while a stray sandbox still answers there.
	Reservations int
	// Links removed: ports of the bridge that are no running sandbox's
	// veth (a sandbox of a dead worker with other state).
	Links int
}

// Reconciled returns what Open found of an earlier incarnation.
func (r *Runtime) Reconciled() Reconciled { return r.reconciled }

// reconcile makes the runtime's machine state match its containers
// before anything is listed or created: it keeps the sandboxes whose task
// runs (with their egress rules) and removes everything else it finds in
// its namespace, state directory and bridge.
func (r *Runtime) reconcile(ctx context.Context) (Reconciled, error) {
	var rec Reconciled
	containers, err := r.client.Containers(ctx, `labels."`+labelFunction+`"`)
	if err != nil {
		return rec, fmt.Errorf("list containers: %w", err)
	}
	live := map[string]bool{}
	veths := map[string]bool{}
	for _, c := range containers {
		labels, err := c.Labels(ctx)
		if err != nil {
			return rec, fmt.Errorf("container %s: %w", c.ID(), err)
		}
		if labels[labelEndpoint] != "" && running(ctx, c) {
			// Opening the runtime reinstalled the bridge's firewall
			// without any egress: a kept sandbox with egress gets its
			// rules again (its namespace kept its route).
			if ip := egressIP(labels); ip != nil && !r.cfg.Unhardened {
				if err := r.fw.AllowEgress(r.cfg.Bridge, ip); err != nil {
					return rec, fmt.Errorf("container %s: %w", c.ID(), err)
				}
			}
			live[c.ID()] = true
			veths[labels[labelVeth]] = true
			rec.Kept++
			continue
		}
		if err := r.Delete(ctx, c.ID()); err != nil && !errors.Is(err, worker.ErrNotFound) {
			return rec, err
		}
		rec.Containers++
	}
	entries, err := os.ReadDir(r.net.nsDir)
	if err != nil {
		return rec, fmt.Errorf("network namespaces: %w", err)
	}
	for _, e := range entries {
		if live[e.Name()] {
			continue
		}
		if err := r.net.teardown(ctx, e.Name()); err != nil {
			r.log.Warn("reconcile: tear down the network of a stray namespace", "id", e.Name(), "err", err)
		}
		if err := r.net.removeNS(e.Name()); err != nil {
			return rec, err
		}
		rec.Namespaces++
	}
	n, err := r.net.releaseStray(live)
	rec.Reservations = n
	if err != nil {
		return rec, err
	}
	ports, err := machine.Ports(r.cfg.Bridge)
	if err != nil {
		return rec, err
	}
	for _, p := range ports {
		if veths[p.Attrs().Name] {
			continue
		}
		if err := netlink.LinkDel(p); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) && !errors.Is(err, unix.ENODEV) {
			return rec, fmt.Errorf("bridge %s: delete stray port %s: %w", r.cfg.Bridge, p.Attrs().Name, err)
		}
		rec.Links++
	}
	return rec, nil
}

// running reports whether the container's task runs.
func running(ctx context.Context, c containerd.Container) bool {
	task, err := c.Task(ctx, nil)
	if err != nil {
		return false
	}
	st, err := task.Status(ctx)
	return err == nil && st.Status == containerd.Running
}

// releaseStray removes the host-local reservations (files named by the
// address, holding the CNI container ID on their first line) that belong
// to no sandbox in live, and returns how many it removed.
func (n *network) releaseStray(live map[string]bool) (int, error) {
	dir := filepath.Join(n.ipamDir, networkName)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("IPAM reservations: %w", err)
	}
	removed := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == "lock" || strings.HasPrefix(name, "last_reserved_ip") {
			continue
		}
		path := filepath.Join(dir, name)
		owner, err := firstLine(path)
		if err != nil {
			return removed, fmt.Errorf("IPAM reservation %s: %w", path, err)
		}
		if id, ok := strings.CutPrefix(owner, n.idPrefix); ok && live[id] {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("IPAM reservation %s: %w", path, err)
		}
		removed++
	}
	return removed, nil
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	return strings.TrimSpace(sc.Text()), sc.Err()
}

// RemoveNetwork deletes the runtime's bridge (and the routes that go with
// it) once it has no sandbox left: a stopping worker calls it after
// deleting its sandboxes. With sandboxes left it does nothing and says so.
func (r *Runtime) RemoveNetwork(ctx context.Context) error {
	left, err := r.List(ctx)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("bridge %s kept: %d sandboxes still on it", r.cfg.Bridge, len(left))
	}
	if _, err := machine.RemoveBridge(r.cfg.Bridge); err != nil {
		return err
	}
	return nil
}

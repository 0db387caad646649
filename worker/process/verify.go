package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"

	"baton.dev/baton/worker"
)

// Verify checks that connection c reaches sandbox id's process: the
// kernel's socket table must hold c, and every socket listening on c's
// server port must be held by a process of the sandbox's process group.
// A process of a dead worker still bound to the port, or any other
// process, fails the check whatever it answers.
func (r *Runtime) Verify(ctx context.Context, id string, c worker.Conn) error {
	rec, err := r.readRecord(id)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sandbox %s: %w", id, worker.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return verifyGroup(id, rec.PID, c)
}

// verifyGroup is Verify for the sandbox whose process group is pgid.
func verifyGroup(id string, pgid int, c worker.Conn) error {
	// Asked on a thread of this process's own namespace: the thread group
	// leader's may not be (a containerd runtime in the same process may
	// have left it in a sandbox's).
	runtime.LockOSThread()
	ok, err := worker.HoldsConn(c)
	var l worker.Socket
	var listening bool
	if err == nil && ok {
		l, listening, err = worker.ListenerFor(c.Server)
	}
	runtime.UnlockOSThread()
	switch {
	case err != nil:
		return fmt.Errorf("sandbox %s: %w", id, err)
	case !ok:
		return fmt.Errorf("sandbox %s: %w: this machine has no connection %s", id, worker.ErrIdentity, c)
	case !listening:
		return fmt.Errorf("sandbox %s: %w: nothing listens on %s", id, worker.ErrIdentity, c.Server)
	}
	held, err := heldBy(pgid, uint64(l.Inode))
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	if !held {
		return fmt.Errorf("sandbox %s: %w: the socket listening on %s belongs to another process", id, worker.ErrIdentity, c.Server)
	}
	return nil
}

// heldBy reports whether a process of process group pgid holds socket
// inode open.
func heldBy(pgid int, inode uint64) (bool, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false, fmt.Errorf("list processes: %w", err)
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pgrp(pid) != pgid {
			continue
		}
		fds, err := os.ReadDir("/proc/" + e.Name() + "/fd")
		if err != nil {
			continue // gone meanwhile
		}
		for _, fd := range fds {
			if link, err := os.Readlink("/proc/" + e.Name() + "/fd/" + fd.Name()); err == nil && link == want {
				return true, nil
			}
		}
	}
	return false, nil
}

package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"

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
	// The calling thread's view: /proc/self/net is the thread group
	// leader's, whose namespace need not be this process's (a containerd
	// runtime in the same process may have left it in a sandbox's).
	runtime.LockOSThread()
	socks, err := worker.ReadSockets("/proc/thread-self/net")
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	if !worker.Holds(socks, c) {
		return fmt.Errorf("sandbox %s: %w: this machine has no connection %s", id, worker.ErrIdentity, c)
	}
	listeners := map[uint64]bool{}
	for _, s := range socks {
		if s.State == worker.TCPListen && s.Local.Port() == c.Server.Port() &&
			(s.Local.Addr() == c.Server.Addr() || s.Local.Addr().IsUnspecified()) {
			listeners[s.Inode] = false
		}
	}
	if len(listeners) == 0 {
		return fmt.Errorf("sandbox %s: %w: nothing listens on %s", id, worker.ErrIdentity, c.Server)
	}
	if err := markHeld(pgid, listeners); err != nil {
		return fmt.Errorf("sandbox %s: %w", id, err)
	}
	for inode, held := range listeners {
		if !held {
			return fmt.Errorf("sandbox %s: %w: socket %d listening on %s belongs to another process", id, worker.ErrIdentity, inode, c.Server)
		}
	}
	return nil
}

// markHeld sets sockets[inode] for each socket that a process of process
// group pgid holds open.
func markHeld(pgid int, sockets map[uint64]bool) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
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
			link, err := os.Readlink("/proc/" + e.Name() + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			if _, ok := sockets[inode]; ok {
				sockets[inode] = true
			}
		}
	}
	return nil
}

// pgrp returns process pid's process group, or -1.
func pgrp(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:]) // state ppid pgrp ...
	if len(f) < 3 {
		return -1
	}
	g, err := strconv.Atoi(f[2])
	if err != nil {
		return -1
	}
	return g
}

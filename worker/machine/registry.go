// Package machine records the worker incarnations that run on one machine,
// so that a worker starting up can tell what dead predecessors left
// running (private containerd daemons, shims, sandbox processes, network
// namespaces, veths, bridges) from live workers' sandboxes, and remove it
// before it announces itself.
//
// Each incarnation is a file in the registry directory, locked (flock) by
// the process that runs the worker for as long as it lives: the kernel
// drops the lock when that process dies, however it dies, so a file whose
// lock can be taken belongs to a dead incarnation.
package machine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultDir is the registry of this machine: under /run, which a reboot
// empties along with every process and namespace the records point to.
const DefaultDir = "/run/baton/workers"

// Incarnation is one start of one worker on this machine.
type Incarnation struct {
	// ID is random, new at every start.
	ID       string `json:"id"`
	WorkerID string `json:"workerId"`
	PID      int    `json:"pid"`
	Runtime  string `json:"runtime"`
	// DataDir is the worker's data directory; Dirs are other
	// directories its processes run from (a private containerd's socket
	// directory under /run).
	DataDir string   `json:"dataDir"`
	Dirs    []string `json:"dirs,omitempty"`
	// Bridge and Subnet are the sandbox network of a containerd worker.
	Bridge  string    `json:"bridge,omitempty"`
	Subnet  string    `json:"subnet,omitempty"`
	Started time.Time `json:"started"`
}

// NewID returns a new incarnation ID.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return "inc-" + hex.EncodeToString(b[:])
}

// Registry is the directory of incarnation records.
type Registry struct {
	dir string
}

// Open makes the registry directory if it is missing.
func Open(dir string) (*Registry, error) {
	if dir == "" {
		dir = DefaultDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("worker registry %s: %w", dir, err)
	}
	return &Registry{dir: dir}, nil
}

// Session holds the registry's lock: one worker at a time looks at the
// records, sweeps the dead and claims its own.
type Session struct {
	reg  *Registry
	lock *os.File
	// dead are the records whose owner is gone, each held locked so that
	// no other session takes them meanwhile.
	dead []held
	live []Incarnation
}

type held struct {
	inc  Incarnation
	path string
	f    *os.File
}

// Begin takes the registry's lock (waiting for another worker's session)
// and reads every record, telling the live from the dead.
func (r *Registry) Begin() (*Session, error) {
	lock, err := os.OpenFile(filepath.Join(r.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("worker registry: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("worker registry: lock: %w", err)
	}
	s := &Session{reg: r, lock: lock}
	paths, err := filepath.Glob(filepath.Join(r.dir, "*.json"))
	if err != nil {
		s.End()
		return nil, fmt.Errorf("worker registry: %w", err)
	}
	sort.Strings(paths)
	for _, path := range paths {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue // removed meanwhile
		}
		var inc Incarnation
		if err := json.NewDecoder(f).Decode(&inc); err != nil {
			// A record cut short by a crash while it was written: its
			// owner never ran as a worker. Remove it once unlocked.
			if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
				os.Remove(path)
			}
			f.Close()
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close()
			s.live = append(s.live, inc)
			continue
		}
		s.dead = append(s.dead, held{inc: inc, path: path, f: f})
	}
	return s, nil
}

// Live returns the incarnations whose owner runs.
func (s *Session) Live() []Incarnation { return s.live }

// Dead returns the incarnations whose owner is gone.
func (s *Session) Dead() []Incarnation {
	out := make([]Incarnation, len(s.dead))
	for i, h := range s.dead {
		out[i] = h.inc
	}
	return out
}

// Forget removes a dead incarnation's record, once what it left is swept.
func (s *Session) Forget(id string) error {
	for i, h := range s.dead {
		if h.inc.ID != id {
			continue
		}
		err := os.Remove(h.path)
		h.f.Close()
		s.dead = append(s.dead[:i], s.dead[i+1:]...)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("worker registry: %w", err)
		}
		return nil
	}
	return fmt.Errorf("worker registry: no dead incarnation %s", id)
}

// Conflict returns an error when inc cannot run beside a live
// incarnation: the same data directory or bridge. (Worker IDs may repeat
// on one machine: workers of different clusters, or tests.)
func (s *Session) Conflict(inc Incarnation) error {
	for _, l := range s.live {
		switch {
		case l.DataDir == inc.DataDir:
			return fmt.Errorf("data directory %s is in use by worker %s (pid %d)", l.DataDir, l.WorkerID, l.PID)
		case inc.Bridge != "" && l.Bridge == inc.Bridge:
			return fmt.Errorf("subnet %s (bridge %s) is in use by worker %s (pid %d): give each worker on a machine its own --subnet", inc.Subnet, inc.Bridge, l.WorkerID, l.PID)
		}
	}
	return nil
}

// Claim records inc as live, owned by this process until Release. It
// locks the record before giving it its name, so that no session ever
// sees it unlocked.
func (s *Session) Claim(inc Incarnation) (*Claim, error) {
	if err := s.Conflict(inc); err != nil {
		return nil, err
	}
	path := filepath.Join(s.reg.dir, inc.ID+".json")
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("worker registry: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("worker registry: lock: %w", err)
	}
	if err := json.NewEncoder(f).Encode(inc); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("worker registry: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("worker registry: %w", err)
	}
	s.live = append(s.live, inc)
	return &Claim{Incarnation: inc, path: path, f: f}, nil
}

// End releases the registry's lock and the dead records not forgotten.
func (s *Session) End() {
	for _, h := range s.dead {
		h.f.Close()
	}
	s.dead = nil
	s.lock.Close()
}

// Claim is this process's record of a live incarnation.
type Claim struct {
	Incarnation
	path string
	f    *os.File
}

// Release removes the record: the worker stopped and left nothing.
func (c *Claim) Release() error {
	err := os.Remove(c.path)
	c.f.Close()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("worker registry: %w", err)
	}
	return nil
}

// Abandon lets go of the record without removing it: the worker stopped
// but may have left something behind, which the next worker to start on
// this machine sweeps.
func (c *Claim) Abandon() { c.f.Close() }

// MachineID names this machine: /etc/machine-id, else the host name.
func MachineID() string {
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id
		}
	}
	h, _ := os.Hostname()
	return h
}

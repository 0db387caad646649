package machine

import (
	"errors"
	"fmt"
	"path/filepath"

	"baton.dev/baton/internal/procsweep"
)

// Swept is what removing one dead incarnation's leftovers did.
type Swept struct {
	Incarnation Incarnation
	// Adoptable says the incarnation had self's data directory: its
	// sandboxes were left for the new worker to adopt or remove, and only
	// its private containerd was stopped.
	Adoptable bool
	// Processes killed, Mounts removed (network namespaces), Links
	// deleted (veths and the bridge).
	Processes, Mounts, Links int
}

// SweepDead removes what every dead incarnation left running and forgets
// its record. A dead incarnation with self's data directory is self's
// predecessor: its sandboxes stay for self to adopt (the runtime keeps
// those it can prove its own and removes the rest), and only its private
// containerd is stopped. Every other dead incarnation loses everything:
// its containerd, shims and sandbox processes (by the directories they
// run from and the network namespaces mounted there), its namespace
// mounts, and its bridge with every veth on it unless a live worker uses
// that bridge.
func (s *Session) SweepDead(self Incarnation) ([]Swept, error) {
	var out []Swept
	var errs []error
	for _, d := range s.Dead() {
		sw := Swept{Incarnation: d, Adoptable: d.DataDir == self.DataDir}
		var res procsweep.Result
		var err error
		if sw.Adoptable {
			// Only the daemon: its command line names its configuration.
			res, err = procsweep.Sweep(filepath.Join(d.DataDir, "containerd", "config.toml"))
		} else {
			res, err = procsweep.Sweep(append([]string{d.DataDir}, d.Dirs...)...)
		}
		sw.Processes, sw.Mounts = res.Killed, res.Unmounted
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep worker %s (incarnation %s): %w", d.WorkerID, d.ID, err))
			continue
		}
		if !sw.Adoptable && d.Bridge != "" && !s.bridgeInUse(d.Bridge) {
			n, err := RemoveBridge(d.Bridge)
			sw.Links = n
			if err != nil {
				errs = append(errs, fmt.Errorf("sweep worker %s (incarnation %s): %w", d.WorkerID, d.ID, err))
				continue
			}
		}
		if err := s.Forget(d.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sw)
	}
	return out, errors.Join(errs...)
}

func (s *Session) bridgeInUse(bridge string) bool {
	for _, l := range s.live {
		if l.Bridge == bridge {
			return true
		}
	}
	return false
}

package leader

import "time"

// Holder is what the lease says of the leader.
type Holder struct {
	// ID names the replica; URL is where it serves the API.
	ID  string `json:"id"`
	URL string `json:"url"`
	// Term counts the takeovers of the lease: one more at each.
	Term uint64 `json:"term"`
	// Since is when the holder took the lease (its clock).
	Since time.Time `json:"since"`
	// Released: the holder gave the lease up (it is stopping); any
	// replica may take it at once.
	Released bool `json:"released,omitempty"`
}

// View is the lease as one replica last saw it.
type View struct {
	// Exists is false when the bucket has no lease yet.
	Exists bool
	Holder Holder
	// Revision is the entry's revision (every renewal writes a new one).
	Revision uint64
	// Changed is when this replica last saw the revision change, or last
	// failed to read it or read it only after waiting for the bus (a
	// replica cut off from the bus counts the leader's renewals as
	// unseen, not missed), by its own clock.
	Changed time.Time
}

// Action is what a replica does next about the lease.
type Action int

const (
	// Wait: another replica leads and renews in time.
	Wait Action = iota
	// Create the lease: there is none.
	Create
	// TakeOver the lease by compare-and-set on its revision: its holder
	// released it or has not renewed it for a TTL.
	TakeOver
	// Renew the lease this replica holds.
	Renew
)

func (a Action) String() string {
	return [...]string{"wait", "create", "take over", "renew"}[a]
}

// Decide is what replica me does next, given the lease as it saw it,
// whether this process holds it (leading) and the lease's ttl. A lease
// that names me while this process does not lead was held by an earlier
// process of this replica, which is gone: it is taken over at once, at a
// new term. Decide is a pure function.
func Decide(now time.Time, me string, leading bool, v View, ttl time.Duration) Action {
	switch {
	case !v.Exists:
		return Create
	case v.Holder.ID == me && !v.Holder.Released && leading:
		return Renew
	case v.Holder.ID == me || v.Holder.Released || now.Sub(v.Changed) >= ttl:
		return TakeOver
	default:
		return Wait
	}
}

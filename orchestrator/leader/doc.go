// Package leader elects one orchestrator replica as the leader through a
// lease kept in a JetStream key-value bucket: compare-and-set on the
// entry's revision, renewed well inside a TTL that the other replicas
// judge by their own clocks. It adds no consensus of its own: JetStream's
// (Raft, in a NATS cluster) orders the writes.
//
// Every takeover raises the lease's term by one. The leader stamps its
// term on each request to a worker and announces it on the bus, and a
// worker refuses a term older than the newest it has seen: a deposed
// leader that still runs (paused, partitioned) cannot act on the workers.
//
// The decision of each step is a pure function, Decide, over the lease as
// a replica last saw it; Elector runs it against the bucket.
package leader

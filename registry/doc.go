// Package registry reaches OCI registries for both sides of Baton: the
// orchestrator pins a workflow's image references to digests at deploy,
// and a worker pulls the pinned images into containerd. Both use
// containerd's own resolver, configured here once (trusted CAs, the hosts
// the operator allows over plain HTTP, and one tenant's credentials for
// one resolution or pull), so that the orchestrator and its workers name
// and reach a registry the same way. Push (for `baton images push`) uses
// go-containerregistry, which writes images where containerd's client
// only reads them.
//
// References under the host baton.local are local: the sample images a
// worker imports from archives at start. They are never resolved or
// pulled.
package registry

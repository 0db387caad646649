//go:build !race

package containerd

// serializeCNI is false in normal builds: CNI calls for different
// sandboxes run in parallel (host-local serializes IP allocation itself).
const serializeCNI = false

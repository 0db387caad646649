//go:build race

package containerd

// serializeCNI is true in race builds: go-cni then guards its state with
// github.com/sasha-s/go-deadlock, which on Go 1.26 sees every goroutine as
// goroutine 0 and reports parallel read locks as recursive locking. One
// CNI call at a time avoids that false alarm.
const serializeCNI = true

// Package localport finds free TCP ports on the loopback interface, for
// the processes Baton starts beside itself (sandboxes of the process
// runtime, test Postgres servers).
package localport

import (
	"fmt"
	"net"
)

// Free asks the kernel for a TCP port on 127.0.0.1 that is free now. The
// port is released before Free returns, so another process may take it
// before the caller binds it: callers that start a server on it must
// handle "address in use" (by trying again).
func Free() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

package worker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Conn names one TCP connection to a sandbox by its two ends, as the
// caller that dialled it sees them. Verify checks it against the kernel's
// socket table of the sandbox, so that a request for a function reaches
// only a sandbox made for that function, even when something else (a
// sandbox left by a dead worker, a foreign process) answers at a reused
// address.
type Conn struct {
	// Client is the caller's end (the orchestrator's, or the worker's
	// own health probe).
	Client netip.AddrPort `json:"client"`
	// Server is the sandbox's end: its endpoint's address and port.
	Server netip.AddrPort `json:"server"`
}

// ConnOf returns the two ends of a dialled TCP connection.
func ConnOf(c net.Conn) (Conn, error) {
	local, ok1 := c.LocalAddr().(*net.TCPAddr)
	remote, ok2 := c.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return Conn{}, fmt.Errorf("connection %s -> %s is not TCP", c.LocalAddr(), c.RemoteAddr())
	}
	return Conn{Client: unmap(local.AddrPort()), Server: unmap(remote.AddrPort())}, nil
}

// String is "client -> server".
func (c Conn) String() string { return c.Client.String() + " -> " + c.Server.String() }

// unmap turns an IPv4-mapped IPv6 address into its IPv4 form.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// ErrIdentity is wrapped by Verify when a connection does not end in the
// sandbox named: whatever answered at the sandbox's address is something
// else.
var ErrIdentity = errors.New("the connection does not end in the sandbox")

package worker

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
)

// TestSockDiag checks the kernel lookups against a real connection: it is
// found, a connection nobody made is not, and the listener is the one
// that takes new connections.
func TestSockDiag(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp"} { // tcp: a dual-stack listener, IPv4-mapped ends
		t.Run(network, func(t *testing.T) {
			ln, err := net.Listen(network, ":0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conn, err := ConnOf(c)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := HoldsConn(conn); err != nil || !ok {
				t.Errorf("HoldsConn(%s) = %v, %v; want true (before accept)", conn, ok, err)
			}
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if ok, err := HoldsConn(conn); err != nil || !ok {
				t.Errorf("HoldsConn(%s) = %v, %v; want true (accepted)", conn, ok, err)
			}
			bogus := conn
			bogus.Client = netip.AddrPortFrom(conn.Client.Addr(), conn.Client.Port()+1)
			if ok, err := HoldsConn(bogus); err != nil || ok {
				t.Errorf("HoldsConn(%s) = %v, %v; want false: nobody made it", bogus, ok, err)
			}
			l, found, err := ListenerFor(conn.Server)
			if err != nil || !found || l.State != TCPListen || l.Local.Port() != uint16(port) || l.Inode == 0 {
				t.Errorf("ListenerFor(%s) = %+v, %v, %v; want the listener", conn.Server, l, found, err)
			}
			if _, found, err := ListenerFor(netip.AddrPortFrom(conn.Server.Addr(), 1)); err != nil || found {
				t.Errorf("ListenerFor port 1 = %v, %v; want none", found, err)
			}
		})
	}
}

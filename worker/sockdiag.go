package worker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// TCPListen is a listener's state as the kernel numbers it
// (include/net/tcp_states.h).
const TCPListen = 10

// Socket is what the kernel reports of one TCP socket.
type Socket struct {
	Local, Remote netip.AddrPort
	State         uint8
	// Inode is the socket's inode, 0 while no process holds it (a
	// connection not yet accepted).
	Inode uint32
}

// HoldsConn reports whether the calling thread's network namespace has
// the server end of c: a socket, not a listener, whose local end is
// c.Server and remote end c.Client (a connection in the listener's
// queue counts). It asks the kernel for that one socket (sock_diag), so
// the answer is exact however many sockets the namespace has.
func HoldsConn(c Conn) (bool, error) {
	s, found, err := lookupTCP(c.Client, c.Server)
	if err != nil || !found {
		return false, err
	}
	return s.State != TCPListen && s.Local == c.Server && s.Remote == c.Client, nil
}

// ListenerFor returns the socket of the calling thread's network
// namespace that would take a new connection to server, if any.
func ListenerFor(server netip.AddrPort) (Socket, bool, error) {
	// A client no connection has: the kernel's lookup falls back to the
	// listener.
	s, found, err := lookupTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), 0), server)
	if err != nil || !found || s.State != TCPListen {
		return Socket{}, false, err
	}
	return s, true, nil
}

// lookupTCP asks the kernel, over a NETLINK_SOCK_DIAG socket made in the
// calling thread's network namespace, for the TCP socket that a segment
// from client to server would reach: the connection's own, else the
// listener on server (as inet_diag's exact lookup does).
func lookupTCP(client, server netip.AddrPort) (Socket, bool, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return Socket{}, false, fmt.Errorf("sock_diag: %w", os.NewSyscallError("socket", err))
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return Socket{}, false, fmt.Errorf("sock_diag: %w", os.NewSyscallError("bind", err))
	}
	const seq = 1 // one request on a socket of its own
	if err := unix.Sendto(fd, diagRequest(seq, client, server), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return Socket{}, false, fmt.Errorf("sock_diag: %w", os.NewSyscallError("sendto", err))
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return Socket{}, false, fmt.Errorf("sock_diag: %w", os.NewSyscallError("recvfrom", err))
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return Socket{}, false, fmt.Errorf("sock_diag: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return Socket{}, false, errors.New("sock_diag: short error message")
				}
				errno := -int32(binary.NativeEndian.Uint32(m.Data[:4]))
				if errno == 0 || unix.Errno(errno) == unix.ENOENT {
					return Socket{}, false, nil
				}
				return Socket{}, false, fmt.Errorf("sock_diag: %w", unix.Errno(errno))
			case unix.NLMSG_DONE:
				return Socket{}, false, nil
			case sockDiagByFamily:
				s, err := parseDiagMsg(m.Data)
				return s, err == nil, err
			}
		}
	}
}

// sockDiagByFamily is SOCK_DIAG_BY_FAMILY.
const sockDiagByFamily = 20

// diagRequest is a netlink message carrying an inet_diag_req_v2 for the
// exact socket of server (source, from the socket's side) and client
// (destination).
func diagRequest(seq uint32, client, server netip.AddrPort) []byte {
	const hdr, req = unix.SizeofNlMsghdr, 56
	b := make([]byte, hdr+req)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], hdr+req)
	ne.PutUint16(b[4:], sockDiagByFamily)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], seq)
	r := b[hdr:]
	family, size := byte(unix.AF_INET), 4
	if server.Addr().Is6() || client.Addr().Is6() {
		family, size = unix.AF_INET6, 16
	}
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], server.Port())
	binary.BigEndian.PutUint16(id[2:], client.Port())
	putAddr(id[4:20], server.Addr(), size)
	putAddr(id[20:36], client.Addr(), size)
	ne.PutUint32(id[40:], 0xffffffff) // no cookie
	ne.PutUint32(id[44:], 0xffffffff)
	return b
}

func putAddr(dst []byte, a netip.Addr, size int) {
	if size == 16 {
		b := a.As16() // an IPv4 address as ::ffff:a.b.c.d
		copy(dst, b[:])
		return
	}
	b := a.Unmap().As4()
	copy(dst, b[:])
}

// parseDiagMsg reads an inet_diag_msg.
func parseDiagMsg(b []byte) (Socket, error) {
	if len(b) < 72 {
		return Socket{}, fmt.Errorf("sock_diag: short message (%d bytes)", len(b))
	}
	family, state := b[0], b[1]
	id := b[4:52]
	addr := func(raw []byte) netip.Addr {
		if family == unix.AF_INET6 {
			a, _ := netip.AddrFromSlice(raw[:16])
			return a.Unmap()
		}
		a, _ := netip.AddrFromSlice(raw[:4])
		return a
	}
	s := Socket{
		Local:  netip.AddrPortFrom(addr(id[4:20]), binary.BigEndian.Uint16(id[0:])),
		Remote: netip.AddrPortFrom(addr(id[20:36]), binary.BigEndian.Uint16(id[2:])),
		State:  state,
		Inode:  binary.NativeEndian.Uint32(b[68:72]),
	}
	return s, nil
}

package worker

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
)

// TCP states as /proc/net/tcp writes them (include/net/tcp_states.h).
const (
	TCPEstablished = 0x01
	TCPListen      = 0x0A
)

// Socket is one line of /proc/net/tcp or /proc/net/tcp6.
type Socket struct {
	Local, Remote netip.AddrPort
	State         uint8
	Inode         uint64
}

// ReadSockets reads the TCP sockets (IPv4 and IPv6) of the network
// namespace that dir's /proc view belongs to: "/proc/thread-self/net" for
// the calling thread's, "/proc/net" for the process's. IPv4-mapped IPv6
// addresses are given in their IPv4 form.
func ReadSockets(dir string) ([]Socket, error) {
	var out []Socket
	for _, name := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			if name == "tcp6" && os.IsNotExist(err) {
				continue // IPv6 disabled
			}
			return nil, fmt.Errorf("read TCP sockets: %w", err)
		}
		if out, err = parseSockets(out, data); err != nil {
			return nil, fmt.Errorf("read TCP sockets from %s/%s: %w", dir, name, err)
		}
	}
	return out, nil
}

// parseSockets appends the sockets of one /proc/net/tcp{,6} table.
//
//	sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode
//	 0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 ...
func parseSockets(out []Socket, data []byte) ([]Socket, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 512), 64*1024)
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		f := bytes.Fields(sc.Bytes())
		if len(f) < 10 {
			continue
		}
		local, err := parseAddrPort(f[1])
		if err != nil {
			return nil, err
		}
		remote, err := parseAddrPort(f[2])
		if err != nil {
			return nil, err
		}
		st, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("state %q: %w", f[3], err)
		}
		inode, err := strconv.ParseUint(string(f[9]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("inode %q: %w", f[9], err)
		}
		out = append(out, Socket{Local: local, Remote: remote, State: uint8(st), Inode: inode})
	}
	return out, sc.Err()
}

// parseAddrPort parses "0100007F:1F90": the address as the kernel's
// 32-bit words in host (little-endian) order, the port big-endian hex.
func parseAddrPort(b []byte) (netip.AddrPort, error) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("address %q: no port", b)
	}
	raw, err := hex.DecodeString(string(b[:i]))
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q: want 8 or 32 hex digits", b)
	}
	for w := 0; w < len(raw); w += 4 { // each word is little-endian
		raw[w], raw[w+1], raw[w+2], raw[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	port, err := strconv.ParseUint(string(b[i+1:]), 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: port: %w", b, err)
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// Holds reports whether sockets has the server end of c: a socket (not a
// listener) whose local end is c.Server and remote end c.Client.
func Holds(sockets []Socket, c Conn) bool {
	for _, s := range sockets {
		if s.State != TCPListen && s.Local == c.Server && s.Remote == c.Client {
			return true
		}
	}
	return false
}

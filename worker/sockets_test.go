package worker

import (
	"net"
	"net/netip"
	"testing"
)

func TestParseSockets(t *testing.T) {
	table := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0500B10A:1F90 0100B10A:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
`)
	table6 := []byte(`  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 20 4 30 10 -1
   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0000000000000000 20 4 30 10 -1
`)
	got, err := parseSockets(nil, table)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = parseSockets(got, table6); err != nil {
		t.Fatal(err)
	}
	want := []Socket{
		{netip.MustParseAddrPort("127.0.0.1:8080"), netip.MustParseAddrPort("0.0.0.0:0"), TCPListen, 4242},
		{netip.MustParseAddrPort("10.177.0.5:8080"), netip.MustParseAddrPort("10.177.0.1:54321"), TCPEstablished, 4343},
		{netip.MustParseAddrPort("127.0.0.1:8080"), netip.MustParseAddrPort("127.0.0.1:40000"), TCPEstablished, 99},
		{netip.MustParseAddrPort("[::1]:80"), netip.MustParseAddrPort("[::]:0"), TCPListen, 7},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sockets, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("socket %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	c := Conn{Client: netip.MustParseAddrPort("10.177.0.1:54321"), Server: netip.MustParseAddrPort("10.177.0.5:8080")}
	if !Holds(got, c) {
		t.Errorf("Holds(%s) = false", c)
	}
	c.Client = netip.MustParseAddrPort("10.177.0.1:54322")
	if Holds(got, c) {
		t.Errorf("Holds(%s) = true for a connection the table lacks", c)
	}
}

func TestParseSocketsRejectsGarbage(t *testing.T) {
	for _, line := range []string{
		"0: XYZ:1F90 00000000:0000 0A 0 0 0 0 0 1",
		"0: 0100007F 00000000:0000 0A 0 0 0 0 0 1",
		"0: 0100007F:1F90 00000000:0000 0A 0 0 0 0 0 notanumber",
		"0: 0100007F:1F90 00000000:0000 ZZZ 0 0 0 0 0 1",
	} {
		if _, err := parseSockets(nil, []byte("header\n"+line+"\n")); err == nil {
			t.Errorf("parseSockets(%q) = nil error", line)
		}
	}
}

// TestReadSocketsSeesALiveConnection checks the parser against this
// machine's kernel: a connection made here is in the table.
func TestReadSocketsSeesALiveConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := ConnOf(c)
	if err != nil {
		t.Fatal(err)
	}
	socks, err := ReadSockets("/proc/thread-self/net")
	if err != nil {
		t.Fatal(err)
	}
	if !Holds(socks, conn) {
		t.Fatalf("the table lacks %s", conn)
	}
}

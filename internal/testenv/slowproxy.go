package testenv

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SlowProxy forwards TCP connections to a target, passing what the target
// sends back at a bounded rate, so a test can act in the middle of a
// transfer (a pull, say). TLS passes through untouched: a client that
// trusts the target's certificate for 127.0.0.1 trusts it here too.
type SlowProxy struct {
	// Addr is where the proxy listens, 127.0.0.1:port.
	Addr string
	// Served counts the bytes passed from the target to clients.
	Served atomic.Int64

	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// StartSlowProxy forwards 127.0.0.1:<some port> to target, at most
// bytesPerSecond from target to client per connection, and stops at the
// end of the test.
func StartSlowProxy(t testing.TB, target string, bytesPerSecond int) *SlowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &SlowProxy{Addr: ln.Addr().String(), ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c, target, bytesPerSecond) })
		}
	})
	t.Cleanup(p.stop)
	return p
}

func (p *SlowProxy) forward(c net.Conn, target string, rate int) {
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	defer c.Close()
	defer up.Close()
	go func() {
		_, _ = io.Copy(up, c)
		up.Close()
	}()
	const tick = 50 * time.Millisecond
	chunk := max(rate*int(tick)/int(time.Second), 1)
	buf := make([]byte, chunk)
	for {
		start := time.Now()
		n, err := up.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			p.Served.Add(int64(n))
		}
		if err != nil {
			return
		}
		time.Sleep(tick - time.Since(start))
	}
}

func (p *SlowProxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

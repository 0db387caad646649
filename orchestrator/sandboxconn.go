package orchestrator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// sandboxConn is the one kept-alive HTTP/1.1 connection to a sandbox. A
// sandbox serves one call at a time, so the call that holds the sandbox
// holds its connection: it writes the request and reads the answer on its
// own goroutine, with net/http's own request writer and response parser,
// instead of handing both to a shared Transport's connection goroutines.
type sandboxConn struct {
	c  net.Conn
	rc syscall.RawConn // c's socket, for open
	br *bufio.Reader
	bw *bufio.Writer
	// host and target are the request's Host and request-target, from the
	// endpoint it was dialled for.
	host, target string
}

// post sends input to the sandbox at endpoint over conn (dialling when
// conn is nil or the sandbox closed it) and returns the status, the body
// (at most limit+1 bytes) and the connection to keep, nil when it cannot
// be reused. Errors are as http.Client's: a failed dial is a *net.OpError
// with Op "dial". A connection it dials is checked first (check.run):
// one that fails gives a *checkError and carries nothing.
func post(ctx context.Context, conn *sandboxConn, endpoint string, input []byte, limit int64, check connCheck) (int, []byte, *sandboxConn, error) {
	if conn != nil && !conn.open() {
		_ = conn.c.Close()
		conn = nil
	}
	if conn == nil {
		var err error
		if conn, err = dial(ctx, endpoint); err != nil {
			return 0, nil, nil, err
		}
		if err := check.run(ctx, conn.c); err != nil {
			_ = conn.c.Close()
			if ctx.Err() != nil {
				return 0, nil, nil, ctx.Err()
			}
			return 0, nil, nil, &checkError{err}
		}
	}
	// The context ends the call by ending the connection's deadline.
	c := conn.c
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	status, body, keep, err := conn.roundTrip(input, limit)
	if !stop() || err != nil || !keep {
		_ = conn.c.Close()
		conn = nil
	}
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return status, body, conn, err
}

// connCheck checks a connection dialled to sandbox sb before it carries
// anything (Router.verifyConn); the zero value checks nothing. A value,
// so that handing it to post allocates nothing.
type connCheck struct {
	r  *Router
	sb *sandboxRef
}

func (cc connCheck) run(ctx context.Context, c net.Conn) error {
	if cc.r == nil || cc.r.skipCheck.Load() {
		return nil
	}
	return cc.r.verifyConn(ctx, cc.sb, c)
}

// checkError is a dialled connection that failed the check of its
// identity (Router.verifyConn): the request was not sent on it.
type checkError struct{ err error }

func (e *checkError) Error() string {
	return "the sandbox's connection failed its identity check: " + e.err.Error()
}
func (e *checkError) Unwrap() error { return e.err }

// dial connects to the sandbox at endpoint. The request-target is the
// endpoint's path and "/", as http.Client was asked for endpoint+"/".
func dial(ctx context.Context, endpoint string) (*sandboxConn, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("sandbox endpoint %q: %w", endpoint, err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	sc := &sandboxConn{c: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c), host: u.Host, target: u.EscapedPath() + "/"}
	if sys, ok := c.(syscall.Conn); ok {
		sc.rc, _ = sys.SyscallConn() // nil: open says no, and each call dials
	}
	return sc, nil
}

// roundTrip posts input and reads the answer.
func (sc *sandboxConn) roundTrip(input []byte, limit int64) (int, []byte, bool, error) {
	bw := sc.bw
	bw.WriteString("POST ")
	bw.WriteString(sc.target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(sc.host)
	bw.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(input)))
	bw.WriteString("\r\n\r\n")
	bw.Write(input)
	if err := bw.Flush(); err != nil {
		return 0, nil, false, err
	}
	resp, err := http.ReadResponse(sc.br, nil)
	if err != nil {
		return 0, nil, false, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, false, err
	}
	// What is left of a body over the limit is not read: the
	// connection is not reused then.
	keep := !resp.Close && int64(len(body)) <= limit
	if keep {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			keep = false
		}
	}
	return resp.StatusCode, body, keep, nil
}

// open reports whether the connection is fit to send on: the sandbox has
// not closed it while it was idle, nor sent anything. It peeks at the
// socket without waiting (one recv with MSG_PEEK|MSG_DONTWAIT): a
// deadline in the past would fail before reading, and one in the future
// would wait for it on every call.
func (sc *sandboxConn) open() bool {
	if sc.br.Buffered() > 0 || sc.rc == nil {
		return false
	}
	alive := false
	var b [1]byte
	err := sc.rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(err, syscall.EAGAIN) // nothing to read, not closed
		return true
	})
	return err == nil && alive
}

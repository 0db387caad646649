package orchestrator

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// replyMux sends the requests to workers, whose replies are awaited apart
// from the sending: one wildcard subscription routes every reply to the
// request waiting for it, by the token at the end of its reply subject. nats.go's
// Request does the same inside one blocking call; splitting it lets the
// Router bound how many creations encode and publish at once (the part
// that takes the orchestrator's CPU) while any number wait for workers.
type replyMux struct {
	nc      *nats.Conn
	mu      sync.Mutex
	prefix  string // the inbox, then "."; empty until subscribed
	next    uint64
	waiting map[uint64]chan *nats.Msg
}

// pendingReply is one request sent and not yet answered.
type pendingReply struct {
	m       *replyMux
	token   uint64
	subject string
	ch      chan *nats.Msg
}

// subscribeLocked subscribes to the replies on first use. A failure is
// the caller's, and the next send tries again. The caller holds m.mu.
func (m *replyMux) subscribeLocked() error {
	if m.prefix != "" {
		return nil
	}
	prefix := nats.NewInbox() + "."
	if _, err := m.nc.Subscribe(prefix+"*", m.deliver); err != nil {
		return fmt.Errorf("subscribe to replies: %w", err)
	}
	m.prefix, m.waiting = prefix, map[uint64]chan *nats.Msg{}
	return nil
}

func (m *replyMux) deliver(msg *nats.Msg) {
	m.mu.Lock()
	token, err := strconv.ParseUint(strings.TrimPrefix(msg.Subject, m.prefix), 10, 64)
	if err != nil {
		m.mu.Unlock()
		return
	}
	ch := m.waiting[token]
	delete(m.waiting, token)
	m.mu.Unlock()
	if ch != nil {
		ch <- msg // buffered: never blocks
	}
}

// send publishes data to subject with a reply subject of its own.
func (m *replyMux) send(subject string, data []byte) (*pendingReply, error) {
	p := &pendingReply{m: m, subject: subject, ch: make(chan *nats.Msg, 1)}
	m.mu.Lock()
	if err := m.subscribeLocked(); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	m.next++
	p.token = m.next
	m.waiting[p.token] = p.ch
	reply := m.prefix + strconv.FormatUint(p.token, 10)
	m.mu.Unlock()
	if err := m.nc.PublishRequest(subject, reply, data); err != nil {
		p.forget()
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
	return p, nil
}

// wait returns the reply, or an error as nats.go's Request gives it:
// nats.ErrNoResponders when nothing listens on the subject, the context's
// error when it ends first.
func (p *pendingReply) wait(ctx context.Context) (*nats.Msg, error) { return p.waitFor(ctx, nil) }

// waitFor is wait, ending also when expired fires (nil: never), with an
// error wrapping context.DeadlineExceeded.
func (p *pendingReply) waitFor(ctx context.Context, expired <-chan time.Time) (*nats.Msg, error) {
	select {
	case msg := <-p.ch:
		if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
			return nil, fmt.Errorf("request %s: %w", p.subject, nats.ErrNoResponders)
		}
		return msg, nil
	case <-ctx.Done():
		p.forget()
		return nil, fmt.Errorf("request %s: %w", p.subject, ctx.Err())
	case <-expired:
		p.forget()
		return nil, fmt.Errorf("request %s: %w", p.subject, context.DeadlineExceeded)
	}
}

func (p *pendingReply) forget() {
	p.m.mu.Lock()
	delete(p.m.waiting, p.token)
	p.m.mu.Unlock()
}

package orchestrator

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// replyMux sends requests whose replies are awaited apart from the
// sending: one wildcard subscription routes every reply to the request
// waiting for it, by the token at the end of its reply subject. nats.go's
// Request does the same inside one blocking call; splitting it lets the
// Router bound how many creations encode and publish at once (the part
// that takes the orchestrator's CPU) while any number wait for workers.
type replyMux struct {
	nc      *nats.Conn
	once    sync.Once
	err     error
	prefix  string // the inbox, then "."
	sub     *nats.Subscription
	mu      sync.Mutex
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

func (m *replyMux) start() error {
	m.once.Do(func() {
		m.prefix = nats.NewInbox() + "."
		m.waiting = map[uint64]chan *nats.Msg{}
		m.sub, m.err = m.nc.Subscribe(m.prefix+"*", m.deliver)
		if m.err != nil {
			m.err = fmt.Errorf("subscribe to replies: %w", m.err)
		}
	})
	return m.err
}

func (m *replyMux) deliver(msg *nats.Msg) {
	token, err := strconv.ParseUint(strings.TrimPrefix(msg.Subject, m.prefix), 10, 64)
	if err != nil {
		return
	}
	m.mu.Lock()
	ch := m.waiting[token]
	delete(m.waiting, token)
	m.mu.Unlock()
	if ch != nil {
		ch <- msg // buffered: never blocks
	}
}

// send publishes data to subject with a reply subject of its own.
func (m *replyMux) send(subject string, data []byte) (*pendingReply, error) {
	if err := m.start(); err != nil {
		return nil, err
	}
	p := &pendingReply{m: m, subject: subject, ch: make(chan *nats.Msg, 1)}
	m.mu.Lock()
	m.next++
	p.token = m.next
	m.waiting[p.token] = p.ch
	m.mu.Unlock()
	if err := m.nc.PublishRequest(subject, m.prefix+strconv.FormatUint(p.token, 10), data); err != nil {
		p.forget()
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
	return p, nil
}

// wait returns the reply, or an error as nats.go's Request gives it:
// nats.ErrNoResponders when nothing listens on the subject, the context's
// error when it ends first.
func (p *pendingReply) wait(ctx context.Context) (*nats.Msg, error) {
	select {
	case msg := <-p.ch:
		if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
			return nil, fmt.Errorf("request %s: %w", p.subject, nats.ErrNoResponders)
		}
		return msg, nil
	case <-ctx.Done():
		p.forget()
		return nil, fmt.Errorf("request %s: %w", p.subject, ctx.Err())
	}
}

func (p *pendingReply) forget() {
	p.m.mu.Lock()
	delete(p.m.waiting, p.token)
	p.m.mu.Unlock()
}

package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"baton.dev/baton/backoff"
	"baton.dev/baton/orchestrator/api"
	"github.com/nats-io/nats.go/jetstream"
)

// Asynchronous invocations are written to a JetStream work-queue stream
// before the 202, run by a durable consumer, and their results kept in a
// key-value bucket, so an accepted invocation runs to completion once even
// if the orchestrator is killed after accepting it.
const (
	asyncStream   = "BATON_ASYNC"
	asyncSubject  = "baton.async" // + "." + tenant
	asyncConsumer = "orchestrator"
	resultsBucket = "baton-async-results"
	resultsTTL    = 24 * time.Hour
	// asyncAckWait is how long a message may go without word from the
	// orchestrator running it before it is delivered again (after a crash);
	// a running invocation says it is in progress every asyncAckWait/3.
	asyncAckWait = 15 * time.Second
)

// asyncRequest is an accepted invocation as the stream holds it.
type asyncRequest struct {
	ID       string    `json:"id"`
	Tenant   string    `json:"tenant"`
	Workflow string    `json:"workflow"`
	Input    []byte    `json:"input"`
	Accepted time.Time `json:"accepted"`
}

// storedInvocation is an invocation record with its output, as the
// results bucket holds it.
type storedInvocation struct {
	invocationFields
	Tenant string `json:"tenant"`
	Output []byte `json:"output"`
}

// invocationFields is an invocation record without its JSON methods: an
// embedded api.Invocation would lend storedInvocation its MarshalJSON and
// UnmarshalJSON, which know nothing of Tenant and Output here.
type invocationFields api.Invocation

// asyncQueue is the durable side of asynchronous invocations.
type asyncQueue struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	results jetstream.KeyValue
}

func openAsyncQueue(ctx context.Context, js jetstream.JetStream, maxInput int64) (*asyncQueue, error) {
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       asyncStream,
		Subjects:   []string{asyncSubject + ".>"},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		MaxMsgSize: int32(min(maxInput*2+4096, 64<<20)), // base64 input in JSON
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("async stream %s: %w", asyncStream, err)
	}
	results, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: resultsBucket, TTL: resultsTTL, Storage: jetstream.FileStorage, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("async results bucket %s: %w", resultsBucket, err)
	}
	return &asyncQueue{js: js, stream: stream, results: results}, nil
}

// accept stores an invocation durably; when it returns nil the invocation
// will run.
func (q *asyncQueue) accept(ctx context.Context, req asyncRequest) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := q.js.Publish(ctx, asyncSubject+"."+req.Tenant, data, jetstream.WithMsgID(req.ID)); err != nil {
		return fmt.Errorf("store the invocation: %w", err)
	}
	return nil
}

// putAccepted records that an invocation was accepted, unless a state is
// already stored: the invocation is in the stream before this runs, so it
// may already have run and stored its result, which must not be
// overwritten.
func (q *asyncQueue) putAccepted(ctx context.Context, inv *api.Invocation) error {
	data, err := json.Marshal(storedInvocation{invocationFields: invocationFields(*inv), Tenant: inv.Tenant})
	if err != nil {
		return err
	}
	if _, err = q.results.Create(ctx, inv.ID, data); errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	return err
}

// putResult records an invocation's state once it has run.
func (q *asyncQueue) putResult(ctx context.Context, inv *api.Invocation) error {
	data, err := json.Marshal(storedInvocation{invocationFields: invocationFields(*inv), Tenant: inv.Tenant, Output: inv.Output})
	if err != nil {
		return err
	}
	_, err = q.results.Put(ctx, inv.ID, data)
	return err
}

// result returns a tenant's stored invocation.
func (q *asyncQueue) result(ctx context.Context, tenant, id string) (*api.Invocation, bool, error) {
	e, err := q.results.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var s storedInvocation
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return nil, false, fmt.Errorf("stored invocation %s: %w", id, err)
	}
	if s.Tenant != tenant {
		return nil, false, nil
	}
	inv := api.Invocation(s.invocationFields)
	inv.Tenant, inv.Output = s.Tenant, s.Output
	return &inv, true, nil
}

// runAsync consumes accepted invocations until ctx ends. Each runs at most
// once at a time here; a message is acknowledged only after its result is
// stored, so an orchestrator killed mid-way leaves it to be delivered
// again, and a result already stored (killed between storing and
// acknowledging) is not run twice. When the consumer cannot be made or
// stops (JetStream not ready yet after a restart, the consumer deleted),
// the failure is logged at once and the consumer made again, with backoff:
// accepted invocations must not wait for a restart of the orchestrator.
func (o *Orchestrator) runAsync(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	schedule := backoff.Exponential{Base: 100 * time.Millisecond, Max: 5 * time.Second}
	_ = schedule.Retry(ctx, func(ctx context.Context) error { return o.consumeAsync(ctx, &wg) },
		func(_ int, err error, wait time.Duration) {
			o.log.Error("asynchronous invocations: the consumer stopped; making it again", "err", err, "in", wait)
		})
	return nil // the consumer ends only with ctx
}

// consumeAsync makes the durable consumer and runs what it delivers until
// ctx ends (nil) or the consumption fails; the runs it started join wg.
func (o *Orchestrator) consumeAsync(ctx context.Context, wg *sync.WaitGroup) error {
	cons, err := o.asyncQ.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       asyncConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       asyncAckWait,
		MaxAckPending: cap(o.async),
	})
	if err != nil {
		return fmt.Errorf("async consumer: %w", err)
	}
	failed := make(chan error, 1)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		select {
		case o.async <- struct{}{}:
		case <-ctx.Done():
			_ = msg.Nak()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-o.async }()
			o.runAccepted(ctx, msg)
		}()
	}, jetstream.PullMaxMessages(64), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			select {
			case failed <- err:
			default:
			}
			return
		}
		o.log.Warn("asynchronous invocations: consumer", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("async consume: %w", err)
	}
	defer cc.Stop()
	select {
	case <-ctx.Done():
		return nil
	case err := <-failed:
		return fmt.Errorf("async consume: %w", err)
	case <-cc.Closed():
		return errors.New("async consume: closed")
	}
}

func (o *Orchestrator) runAccepted(ctx context.Context, msg jetstream.Msg) {
	var req asyncRequest
	if err := json.Unmarshal(msg.Data(), &req); err != nil || req.ID == "" {
		o.log.Error("dropping an unreadable async invocation", "err", err)
		_ = msg.Term()
		return
	}
	if done, ok, err := o.asyncQ.result(ctx, req.Tenant, req.ID); err == nil && ok && done.Status != api.StatusAccepted {
		_ = msg.Ack() // finished before a crash; only the ack was lost
		return
	}
	inv := &api.Invocation{ID: req.ID, Tenant: req.Tenant, Workflow: req.Workflow, Async: true, Status: api.StatusRunning, Start: time.Now()}
	d, ok := o.registry.Get(req.Tenant, req.Workflow)
	if !ok {
		inv.Status, inv.End, inv.Error = api.StatusFailed, time.Now(), fmt.Sprintf("workflow %q was deleted before the invocation ran", req.Workflow)
		o.invocations.Put(inv)
		o.storeResult(ctx, msg, inv)
		return
	}
	o.invocations.Put(inv)
	stop := make(chan struct{})
	go func() { // keep the message ours while it runs
		t := time.NewTicker(asyncAckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	done, err := o.execute(ctx, d, inv, req.Input)
	close(stop)
	if ctx.Err() != nil {
		// Shutting down: the run was cut short; let another orchestrator
		// (or this one, restarted) run it again.
		_ = msg.Nak()
		return
	}
	if wait, ok := refusedForRoom(err, done); ok {
		// Accepted work is never refused for capacity: no function ran,
		// so it stays in the stream, accepted, and runs once there is
		// room (a synchronous caller would have been told to retry).
		// A record of its own: the running one is shared with readers.
		accepted := *inv
		accepted.Status = api.StatusAccepted
		o.invocations.Put(&accepted)
		o.log.Debug("an async invocation waits for room", "id", inv.ID, "retryIn", wait, "err", err)
		_ = msg.NakWithDelay(wait)
		return
	}
	o.storeResult(ctx, msg, done)
}

// refusedForRoom reports whether an invocation failed only for want of
// room (its function's queue at its bounds, its tenant's sandboxes at
// their quota) before any of its stages got a sandbox, and when to try it
// again.
func refusedForRoom(err error, done *api.Invocation) (time.Duration, bool) {
	var ra retryAfter
	if !errors.As(err, &ra) {
		return 0, false
	}
	wait := ra.retryIn()
	for _, st := range done.Stages {
		if st.Sandbox != "" {
			return 0, false
		}
	}
	return max(wait, time.Second), true
}

// storeResult stores a finished invocation, then acknowledges its message.
func (o *Orchestrator) storeResult(ctx context.Context, msg jetstream.Msg, inv *api.Invocation) {
	schedule := backoff.Exponential{Base: 50 * time.Millisecond, Max: 2 * time.Second}
	err := schedule.Retry(ctx, func(ctx context.Context) error { return o.asyncQ.putResult(ctx, inv) },
		func(_ int, err error, _ time.Duration) {
			o.log.Warn("store an async invocation's result; retrying", "id", inv.ID, "err", err)
		})
	if err != nil {
		return // not acknowledged: it runs again after a restart
	}
	if err := msg.Ack(); err != nil {
		o.log.Warn("acknowledge an async invocation", "id", inv.ID, "err", err)
	}
}

package orchestrator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// follower keeps an in-memory view current with a key-value bucket: it
// watches every key and hands each change (a put, a delete or a purge) to
// apply, in revision order, from the bucket's values when it starts on.
//
// A replica's warm standby follows the buckets the leader writes, so that
// taking over needs no reload; the leader stops following once it has
// caught up (catchUp), being the one writer from then on.
type follower struct {
	kv      jetstream.KeyValue
	w       jetstream.KeyWatcher
	applied atomic.Uint64 // the newest revision handed to apply
	done    chan struct{} // closed when the watch has ended
	once    sync.Once
	stopped atomic.Bool // stop ended the watch
}

// follow reads every value in kv into apply and returns once it has; it
// goes on applying changes until stop. A watch that ends before stop is
// logged at once: the view is then stale, and catchUp will fail.
func follow(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger, apply func(jetstream.KeyValueEntry)) (*follower, error) {
	// The watch outlives ctx (it follows until stop); ctx bounds the read.
	w, err := kv.WatchAll(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", kv.Bucket(), err)
	}
	f := &follower{kv: kv, w: w, done: make(chan struct{})}
	for initial := true; initial; {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("watch bucket %s: the watch ended while reading its values", kv.Bucket())
			}
			if e == nil { // every value there was is read
				initial = false
				continue
			}
			apply(e)
			f.applied.Store(e.Revision())
		case <-ctx.Done():
			_ = w.Stop()
			return nil, fmt.Errorf("read bucket %s: %w", kv.Bucket(), ctx.Err())
		}
	}
	go func() {
		defer close(f.done)
		for e := range w.Updates() { // closed by stop
			if e == nil {
				continue
			}
			apply(e)
			f.applied.Store(e.Revision())
		}
		if !f.stopped.Load() {
			log.Error("the watch of a bucket ended: this replica no longer follows the leader's writes there, and cannot lead until it restarts", "bucket", kv.Bucket(), "revision", f.applied.Load())
		}
	}()
	return f, nil
}

// catchUp waits until every change the bucket holds now has been
// applied, then stops following: from then on the caller is the bucket's
// one writer and keeps its view itself.
func (f *follower) catchUp(ctx context.Context) error {
	st, err := f.kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("bucket %s: status: %w", f.kv.Bucket(), err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return fmt.Errorf("bucket %s: status of type %T has no stream sequence", f.kv.Bucket(), st)
	}
	last := bs.StreamInfo().State.LastSeq
	t := time.NewTicker(time.Millisecond) // one timer for the whole wait
	defer t.Stop()
	for f.applied.Load() < last {
		select {
		case <-f.done:
			return fmt.Errorf("bucket %s: the watch ended at revision %d of %d", f.kv.Bucket(), f.applied.Load(), last)
		case <-ctx.Done():
			return fmt.Errorf("bucket %s: caught up to revision %d of %d: %w", f.kv.Bucket(), f.applied.Load(), last, ctx.Err())
		case <-t.C:
		}
	}
	f.stop()
	return nil
}

// stop ends the watch and waits for the last change to be applied.
func (f *follower) stop() {
	f.once.Do(func() {
		f.stopped.Store(true)
		_ = f.w.Stop() // an error means the watch had ended
	})
	<-f.done
}

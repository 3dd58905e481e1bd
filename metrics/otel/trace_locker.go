package otel

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hoard-cache/hoard"
	"go.opentelemetry.io/otel/trace"
)

// The names of the locker's spans.
const (
	LockTrySpan     = "hoard.lock.try"     // one TryLock
	LockWaitSpan    = "hoard.lock.wait"    // a wait for another process's load
	LockRefreshSpan = "hoard.lock.refresh" // one Refresh of a held lock
	LockReleaseSpan = "hoard.lock.release" // one Release
)

// maxWaits bounds the lock waits a traced locker follows at once. Past it
// a wait gets no wait span: each of its polls gets a try span instead.
const maxWaits = 1 << 16

// TraceLocker returns l with spans for the distributed stampede
// protection of [hoard.Stampede]: a span named [LockTrySpan] around a
// TryLock, with hoard.outcome "acquired", "held" (another process loads
// the key) or "error"; a [LockRefreshSpan] and a [LockReleaseSpan] around
// the calls of a lock it handed out. Each carries the cache's name and the
// key, as the Tracer's KeyMode says.
//
// A cache-aside that finds the lock held waits for the holder's value: it
// polls, calling TryLock again with the same ctx and key between reads of
// the shared tier. The traced locker follows such a wait and makes it one
// span named [LockWaitSpan], from the start of the first TryLock to the
// end of the last one, with hoard.lock.polls, the number of TryLock calls,
// and hoard.outcome: "acquired" when the waiter took the lock in the end
// (the holder released it, having written its value or given up),
// "error" when the locker failed, and "stopped" when the waiter stopped
// polling. It stopped because the read that followed found the holder's
// value (the span of that read comes right after), or a stale one was
// served, or the wait ran out: the Aside's metrics
// (hoard.EventLockTimeout, hoard.EventStaleServe) tell which. The
// polls of a wait get no try span of their own. A caller that does not
// poll again after its first TryLock (a background refresh leaves the key
// to the holder) makes no wait span, only the try span.
//
// A wait is known by its ctx's Done channel and its key, and its span is
// emitted when the wait ends: at the TryLock that ends it, or when ctx ends,
// which for the waits of a hoard.Aside is when the load it waited in ends.
// A ctx that can never end (context.Background()) is not followed. A nil
// t returns l as it is.
func TraceLocker(t *Tracer, l hoard.Locker) hoard.Locker {
	if t == nil || l == nil {
		return l
	}
	return &tracedLocker{inner: l, t: t, waits: make(map[waitKey]*lockWait)}
}

type tracedLocker struct {
	inner hoard.Locker
	t     *Tracer

	mu    sync.Mutex
	waits map[waitKey]*lockWait // the waits followed now; guarded by mu
}

// waitKey identifies a wait: the polls of one wait share ctx and key.
type waitKey struct {
	done <-chan struct{}
	key  string
}

// lockWait is a wait being followed. Its fields are guarded by the
// locker's mu while it is in the waits map; the one who takes it out
// emits its span.
type lockWait struct {
	parent      context.Context // the first TryLock's ctx: the span's parent
	start, last time.Time       // the first TryLock's start, the latest's end
	polls       int
	stop        func() bool // stops the AfterFunc that ends the wait with ctx
}

// lockOutcome names what a TryLock came to.
func lockOutcome(err error) string {
	switch {
	case err == nil:
		return "acquired"
	case errors.Is(err, hoard.ErrLockHeld):
		return "held"
	}
	return "error"
}

// TryLock takes key's lock from the traced locker.
func (l *tracedLocker) TryLock(ctx context.Context, key string, ttl time.Duration) (hoard.Lock, error) {
	wk := waitKey{done: ctx.Done(), key: key}
	var w *lockWait
	if wk.done != nil {
		l.mu.Lock()
		w = l.waits[wk]
		l.mu.Unlock()
	}
	if w != nil {
		return l.poll(ctx, wk, w, ttl)
	}
	start := time.Now()
	tctx, span := l.t.start(ctx, LockTrySpan)
	if span.IsRecording() {
		l.t.setKey(span, key)
	}
	lock, err := l.inner.TryLock(tctx, key, ttl)
	end := time.Now()
	if span.IsRecording() {
		span.SetAttributes(AttrOutcome.String(lockOutcome(err)))
	}
	endWith(span, err, hoard.ErrLockHeld)
	if wk.done != nil && errors.Is(err, hoard.ErrLockHeld) {
		l.follow(ctx, wk, start, end)
	}
	return l.wrap(lock, key), err
}

// follow starts following the wait that the held TryLock of wk, from
// start to end, may begin.
func (l *tracedLocker) follow(ctx context.Context, wk waitKey, start, end time.Time) {
	w := &lockWait{parent: ctx, start: start, last: end, polls: 1}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waits) >= maxWaits || l.waits[wk] != nil {
		return
	}
	l.waits[wk] = w
	// AfterFunc runs its function in a goroutine of its own, even when ctx
	// has ended already, so it cannot take mu while this holds it.
	w.stop = context.AfterFunc(ctx, func() {
		if l.take(wk, w) {
			l.emit(wk.key, w, "stopped", nil)
		}
	})
}

// take removes w from the waits followed, and reports whether it was
// there: the caller that took it emits its span.
func (l *tracedLocker) take(wk waitKey, w *lockWait) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waits[wk] != w {
		return false
	}
	delete(l.waits, wk)
	return true
}

// poll is a TryLock of the wait w: it counts, and it ends the wait when it
// does not find the lock held.
func (l *tracedLocker) poll(ctx context.Context, wk waitKey, w *lockWait, ttl time.Duration) (hoard.Lock, error) {
	lock, err := l.inner.TryLock(ctx, wk.key, ttl)
	end := time.Now()
	held := errors.Is(err, hoard.ErrLockHeld)
	l.mu.Lock()
	mine := l.waits[wk] == w
	if mine {
		w.polls++
		w.last = end
		if !held {
			delete(l.waits, wk)
		}
	}
	l.mu.Unlock()
	if mine && !held {
		w.stop()
		l.emit(wk.key, w, lockOutcome(err), err)
	}
	return l.wrap(lock, wk.key), err
}

// emit makes the span of the wait w, which ended with outcome, taken out
// of the waits followed. A wait of one TryLock is none: the caller did
// not poll.
func (l *tracedLocker) emit(key string, w *lockWait, outcome string, err error) {
	if w.polls < 2 {
		return
	}
	_, span := l.t.tracer.Start(w.parent, LockWaitSpan, trace.WithTimestamp(w.start))
	if span.IsRecording() {
		span.SetAttributes(l.t.base...)
		l.t.setKey(span, key)
		span.SetAttributes(AttrPolls.Int(w.polls), AttrOutcome.String(outcome))
		fail(span, err)
	}
	span.End(trace.WithTimestamp(w.last))
}

// wrap returns lock traced, or nil for nil.
func (l *tracedLocker) wrap(lock hoard.Lock, key string) hoard.Lock {
	if lock == nil {
		return nil
	}
	return &tracedLock{inner: lock, t: l.t, key: key}
}

// tracedLock is a lock handed out by a traced locker.
type tracedLock struct {
	inner hoard.Lock
	t     *Tracer
	key   string
}

// Refresh extends the lock under a span.
func (k *tracedLock) Refresh(ctx context.Context, ttl time.Duration) error {
	ctx, span := k.t.start(ctx, LockRefreshSpan)
	if span.IsRecording() {
		k.t.setKey(span, k.key)
	}
	err := k.inner.Refresh(ctx, ttl)
	endWith(span, err)
	return err
}

// Release gives the lock up under a span.
func (k *tracedLock) Release(ctx context.Context) error {
	ctx, span := k.t.start(ctx, LockReleaseSpan)
	if span.IsRecording() {
		k.t.setKey(span, k.key)
	}
	err := k.inner.Release(ctx)
	endWith(span, err)
	return err
}

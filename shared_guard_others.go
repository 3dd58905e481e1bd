package hoard

import (
	"context"
	"time"
)

// The shared guard on what else an Aside asks of Redis: its distributed
// locks, and the invalidator's namespace counters and tag clock. Without
// it, a Redis that is down or black-holed holds a read in TryLock or in a
// read of the tag epoch until its ctx ends, even with the breaker open.

// guardLocker puts l behind the shared guard when there is a budget or a
// breaker.
func guardLocker(l Locker, hard time.Duration, b *CircuitBreaker) Locker {
	if l == nil || (hard == 0 && b == nil) {
		return l
	}
	return guardedLocker{inner: l, guard: sharedGuard{hard: hard, breaker: b}}
}

// guardedLocker is a Locker behind the shared guard: a lock the breaker
// refuses fails at once with ErrCircuitOpen, which the Aside treats as a
// locker that failed (one load per process).
type guardedLocker struct {
	inner Locker
	guard sharedGuard
}

func (l guardedLocker) TryLock(ctx context.Context, key string, ttl time.Duration) (lock Lock, err error) {
	err = l.guard.do(ctx, func(ctx context.Context) (err error) { lock, err = l.inner.TryLock(ctx, key, ttl); return err })
	if lock != nil {
		lock = guardedLock{inner: lock, guard: l.guard}
	}
	return lock, err
}

// guardedLock is a held lock whose refreshes and release are guarded.
type guardedLock struct {
	inner Lock
	guard sharedGuard
}

func (l guardedLock) Refresh(ctx context.Context, ttl time.Duration) error {
	return l.guard.do(ctx, func(ctx context.Context) error { return l.inner.Refresh(ctx, ttl) })
}

func (l guardedLock) Release(ctx context.Context) error {
	return l.guard.do(ctx, func(ctx context.Context) error { return l.inner.Release(ctx) })
}

// guardedCounter is a Counter behind the shared guard.
type guardedCounter struct {
	inner Counter
	guard sharedGuard
}

func (c guardedCounter) IncrBy(ctx context.Context, key string, delta int64) (n int64, err error) {
	err = c.guard.do(ctx, func(ctx context.Context) (err error) { n, err = c.inner.IncrBy(ctx, key, delta); return err })
	return n, err
}

// guardedTagClock is a TagClock behind the shared guard.
type guardedTagClock struct {
	inner TagClock
	guard sharedGuard
}

func (c guardedTagClock) Epoch(ctx context.Context) (n int64, err error) {
	err = c.guard.do(ctx, func(ctx context.Context) (err error) { n, err = c.inner.Epoch(ctx); return err })
	return n, err
}

func (c guardedTagClock) InvalidateTags(ctx context.Context, tags ...string) (n int64, err error) {
	err = c.guard.do(ctx, func(ctx context.Context) (err error) { n, err = c.inner.InvalidateTags(ctx, tags...); return err })
	return n, err
}

func (c guardedTagClock) TagEpochs(ctx context.Context, tags []string) (stamps []int64, err error) {
	err = c.guard.do(ctx, func(ctx context.Context) (err error) { stamps, err = c.inner.TagEpochs(ctx, tags); return err })
	return stamps, err
}

package hoardtest

import (
	"context"
	"time"

	"github.com/hoard-cache/hoard"
)

// Fault injection for tests of code built on hoard: [NewFaultyCache] and
// [NewFaultyLocker] wrap a backend and let the test decide, call by call,
// whether it fails, how long it takes, and what else happens while it is
// under way; [Faults] is a ready-made, seeded decider (a backend that is
// down, or fails a share of its calls, or is slow); [JumpingClock] moves a
// [FakeClock] forward in the middle of the code that reads it.

// NewFaultyLocker wraps inner so that every TryLock, Refresh and Release
// goes through inject (nil: none). A TryLock that fails with [Fault.After]
// took the lock and lost the answer: the lock stays held until its TTL.
func NewFaultyLocker(inner hoard.Locker, inject Injector) hoard.Locker {
	return &faultyLocker{inner: inner, inject: inject}
}

type faultyLocker struct {
	inner  hoard.Locker
	inject Injector
}

func (l *faultyLocker) TryLock(ctx context.Context, key string, ttl time.Duration) (hoard.Lock, error) {
	var lock hoard.Lock
	var innerErr error
	made, err := around(ctx, l.inject, Call{Method: "TryLock", Op: OpLock, Keys: []string{key}}, func() error {
		lock, innerErr = l.inner.TryLock(ctx, key, ttl)
		return innerErr
	})
	if made && err == innerErr && err == nil {
		return &faultyLock{lock: lock, key: key, inject: l.inject}, nil
	}
	return nil, err
}

type faultyLock struct {
	lock   hoard.Lock
	key    string
	inject Injector
}

func (l *faultyLock) Refresh(ctx context.Context, ttl time.Duration) error {
	_, err := around(ctx, l.inject, Call{Method: "Refresh", Op: OpLock, Keys: []string{l.key}}, func() error {
		return l.lock.Refresh(ctx, ttl)
	})
	return err
}

func (l *faultyLock) Release(ctx context.Context) error {
	_, err := around(ctx, l.inject, Call{Method: "Release", Op: OpLock, Keys: []string{l.key}}, func() error {
		return l.lock.Release(ctx)
	})
	return err
}

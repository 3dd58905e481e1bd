package hoard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The load path of a miss with distributed stampede protection: take the
// key's lock or wait for its holder's value, with a fallback after LockWait.

// load runs inside the flight. It reads both tiers again (another flight
// may have filled them since Get looked: groupcache's double-check), taking
// their tokens before the loader starts. With a Locker it first takes the
// key's lock, or waits for the holder's value.
//
// Without a Locker, the reads that Get made of both tiers (seen, nil when
// none) are the load's, when no load of this process has ended since: the
// double-check is against such a load, which may have filled the tiers
// meanwhile. Any other write since makes a token stale and its write-back
// fail, as a write after the load's own reads would; Redis is asked once,
// not twice, per miss (issue 15). Both reads are Get's, in Get's order
// (memory's token before the shared read: see storeStale).
func (a *Aside[V]) load(ctx context.Context, id, key string, loader Loader[V], seen *tierReads[V]) (V, error) {
	if a.opts.Locker == nil || flagsOf(ctx).noLock {
		var mem, shared tierRead[V]
		if seen != nil && a.flights.landed.Load() == seen.landed {
			mem, shared = seen.mem, seen.shared
		} else {
			mem, shared = a.readBoth(ctx, key)
		}
		if v, from, err := a.freshIn(ctx, key, &mem, &shared); from != SourceNone {
			return v, err
		}
		return a.loadAndStore(ctx, id, key, loader, &mem, &shared, nil)
	}
	// The wait is measured in real time, as the polls sleep: Clock is for
	// entry times.
	var waitStart time.Time
	poll := minLockPoll
	for {
		lock, lockErr := a.opts.Locker.TryLock(ctx, key, a.opts.LockTTL)
		if lockErr != nil && !errors.Is(lockErr, ErrLockHeld) {
			// The locker failed (Redis down): protect the source per
			// process only, rather than not answering.
			a.opts.Metrics.Add(EventBackendError, TierShared, 1)
		}
		// Read after taking the lock: a holder that wrote and released
		// just before is seen, and not loaded again.
		mem, shared := a.readBoth(ctx, key)
		if v, from, err := a.freshIn(ctx, key, &mem, &shared); from != SourceNone {
			if lock != nil {
				a.release(ctx, key, lock)
			}
			if !waitStart.IsZero() {
				a.opts.Metrics.ObserveLockWait(time.Since(waitStart))
			}
			return v, err
		}
		if lockErr == nil || !errors.Is(lockErr, ErrLockHeld) {
			return a.loadLocked(ctx, id, key, loader, lock, &mem, &shared)
		}
		if waitStart.IsZero() {
			waitStart = time.Now()
		}
		waited := time.Since(waitStart)
		if a.opts.SoftTimeout > 0 && waited >= a.opts.SoftTimeout {
			// Another process loads, past our soft timeout: serve the
			// stale value at hand, as a load of our own would.
			if stale, ok := a.staleWithin(&mem, &shared, a.opts.Clock.Now()); ok && !stale.Negative {
				a.opts.Metrics.ObserveLockWait(waited)
				a.opts.Metrics.Add(EventStaleServe, TierNone, 1)
				return stale.Value, errors.Join(ErrServedStale, errSoftTimeout)
			}
		}
		if waited >= a.opts.LockWait {
			a.opts.Metrics.Add(EventLockTimeout, TierNone, 1)
			a.opts.Metrics.ObserveLockWait(waited)
			return a.lockFallback(ctx, id, key, loader, &mem, &shared)
		}
		if err := sleepCtx(ctx, poll); err != nil {
			var zero V
			return zero, fmt.Errorf("hoard: aside %q: waiting for the load of %q: %w", a.opts.Name, id, err)
		}
		poll = min(poll*2, maxLockPoll)
	}
}

// The bounds of the backoff of a reader polling for another process's load.
const (
	minLockPoll = 2 * time.Millisecond
	maxLockPoll = 50 * time.Millisecond
)

// loadLocked loads while holding lock (nil when the locker failed), then
// releases it: when the load ends, which past a soft timeout is after the
// reader got the stale value, so no other process loads meanwhile.
func (a *Aside[V]) loadLocked(ctx context.Context, id, key string, loader Loader[V], lock Lock, mem, shared *tierRead[V]) (V, error) {
	if lock == nil {
		return a.loadAndStore(ctx, id, key, loader, mem, shared, nil)
	}
	stop := a.keepRefreshed(ctx, lock)
	return a.loadAndStore(ctx, id, key, loader, mem, shared, func() {
		stop()
		a.release(ctx, key, lock)
	})
}

// keepRefreshed refreshes lock every LockTTL/3 until the returned stop is
// called; stop returns when the refresher has.
func (a *Aside[V]) keepRefreshed(ctx context.Context, lock Lock) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(a.opts.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := lock.Refresh(context.WithoutCancel(ctx), a.opts.LockTTL); err != nil {
					a.opts.Metrics.Add(EventBackendError, TierShared, 1)
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// release gives up the lock of key. A lock that expired meanwhile is only
// counted: the write-back already went through compare-and-set. A release
// that failed otherwise (Redis unreachable) is retried in the background
// (see retryRelease).
func (a *Aside[V]) release(ctx context.Context, key string, lock Lock) {
	err := lock.Release(context.WithoutCancel(ctx))
	if err == nil {
		return
	}
	a.opts.Metrics.Add(EventBackendError, TierShared, 1)
	if !errors.Is(err, ErrLockNotHeld) {
		a.retryRelease(ctx, key, lock)
	}
}

// lockFallback is what a reader does after waiting LockWait in vain.
func (a *Aside[V]) lockFallback(ctx context.Context, id, key string, loader Loader[V], mem, shared *tierRead[V]) (V, error) {
	var zero V
	switch a.opts.LockFallback {
	case LockFallbackStale:
		if stale, ok := a.staleWithin(mem, shared, a.opts.Clock.Now()); ok {
			a.opts.Metrics.Add(EventStaleServe, TierNone, 1)
			if stale.Negative {
				return zero, errors.Join(ErrServedStale, ErrLockTimeout, ErrNotFound)
			}
			return stale.Value, errors.Join(ErrServedStale, ErrLockTimeout)
		}
		fallthrough
	case LockFallbackError:
		return zero, fmt.Errorf("%w: aside %q: %q after %v", ErrLockTimeout, a.opts.Name, id, a.opts.LockWait)
	}
	return a.loadAndStore(ctx, id, key, loader, mem, shared, nil)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

package hoard

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"
)

// The backoff of a lock release retried after a failure.
const (
	minReleaseRetry = 50 * time.Millisecond
	maxReleaseRetry = time.Second
)

// retryRelease releases lock in the background, retrying until Redis
// takes the release, the lock turns out expired, or LockTTL has passed
// (the lock has expired by then). Without it, a lock whose release failed
// during an outage stays until its TTL, and every reader of key after
// Redis came back waits for a load nobody runs, up to Stampede.Wait. The
// retry counts as background work: Close waits for it, and a Close that
// gives up cancels it.
func (a *Aside[V]) retryRelease(ctx context.Context, key string, lock Lock) {
	until := time.Now().Add(a.opts.LockTTL) // the lock's TTL runs in real time
	// A name of its own: an earlier lock of key may still be retried.
	name := "release " + key + " #" + strconv.FormatUint(a.releases.Add(1), 10)
	a.background.start(ctx, name, func(ctx context.Context) {
		wait := minReleaseRetry
		for attempt := 1; ; attempt++ {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				a.log(ctx, slog.LevelWarn, "lock release abandoned: the lock stays until its TTL", key, slog.Int("attempts", attempt))
				return
			case <-timer.C:
			}
			err := lock.Release(ctx)
			switch {
			case err == nil:
				a.log(ctx, slog.LevelInfo, "lock released after a failed release", key, slog.Int("attempts", attempt+1))
				return
			case errors.Is(err, ErrLockNotHeld):
				return // expired meanwhile: nothing left to release
			case !time.Now().Before(until):
				return // expired by its TTL
			}
			wait = min(wait*2, maxReleaseRetry)
		}
	})
}

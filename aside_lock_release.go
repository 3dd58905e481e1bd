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
// Redis came back waits for a load nobody runs, up to Stampede.Wait.
// Close ends the retries after one last attempt (the process is going, or
// its Redis client is closed): a release that fails then, or after Close,
// leaves the lock to its TTL, as before the retries.
func (a *Aside[V]) retryRelease(ctx context.Context, key string, lock Lock) {
	select {
	case <-a.closing:
		a.log(ctx, slog.LevelWarn, "lock release failed after Close: the lock stays until its TTL", key)
		return
	default:
	}
	until := time.Now().Add(a.opts.LockTTL) // the lock's TTL runs in real time
	// A name of its own: an earlier lock of key may still be retried.
	name := "release " + key + " #" + strconv.FormatUint(a.releases.Add(1), 10)
	a.background.start(ctx, name, func(ctx context.Context) {
		wait := minReleaseRetry
		for attempt := 2; ; attempt++ { // the first was release's
			last := false
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done(): // a Close that gave up waiting
				timer.Stop()
				a.log(ctx, slog.LevelWarn, "lock release abandoned: the lock stays until its TTL", key, slog.Int("attempts", attempt-1))
				return
			case <-a.closing:
				timer.Stop()
				last = true
			case <-timer.C:
			}
			err := lock.Release(ctx)
			switch {
			case err == nil:
				a.log(ctx, slog.LevelInfo, "lock released after a failed release", key, slog.Int("attempts", attempt))
				return
			case errors.Is(err, ErrLockNotHeld):
				return // expired meanwhile: nothing left to release
			case last || !time.Now().Before(until):
				a.log(ctx, slog.LevelWarn, "lock release abandoned: the lock stays until its TTL", key, slog.Int("attempts", attempt), slog.Any("err", err))
				return
			}
			wait = min(wait*2, maxReleaseRetry)
		}
	})
}

package hoard

import (
	"context"
	"errors"
	"log/slog"
)

// The Aside's side of the shared tier's budget: a stale value served over
// a slow shared tier, and write-backs moved to the background.

// serveStaleOverSlowShared answers a Get whose shared-tier read ran past
// the soft timeout with the stale memory entry it holds, and refreshes the
// key in the background (one refresh per key at a time).
func (a *Aside[V]) serveStaleOverSlowShared(ctx context.Context, id, key string, loader Loader[V], stale Entry[V]) (V, error) {
	a.opts.Metrics.Add(EventStaleServe, TierMemory, 1)
	a.startBackground(ctx, key, func(bctx context.Context) {
		a.refresh(bctx, id, key, loader, &stale)
	})
	return stale.Value, errors.Join(ErrServedStale, errSoftTimeoutShared)
}

// startBackground runs fn as a background load of key (see
// backgroundLoads), logging that it could not when the cap is reached.
func (a *Aside[V]) startBackground(ctx context.Context, key string, fn func(ctx context.Context)) bool {
	return a.background.start(ctx, key, fn)
}

// storeShared writes a load's entry back to the shared tier: in the
// background with SharedBudget.BackgroundWrites, so the caller does not
// wait for it.
func (a *Aside[V]) storeShared(ctx context.Context, key string, shared *tierRead[V], e Entry[V]) {
	if !a.opts.BackgroundWrites || a.opts.Shared == nil {
		a.writeBack(ctx, a.opts.Shared, shared, key, e)
		return
	}
	r := *shared // the caller's may change once it returns
	if !a.startBackground(ctx, backgroundWriteKey+key, func(bctx context.Context) {
		a.writeBack(bctx, a.opts.Shared, &r, key, e)
	}) {
		// A write-back of key still runs: this one is newer, but its token
		// was taken after the running one's, so writing it now could only
		// conflict or race; leave the key to the next load, and say so.
		a.log(ctx, slog.LevelDebug, "background write-back skipped: one of the key runs", key)
	}
}

// backgroundWriteKey prefixes the background-load key of a write-back, so
// it never stands in for a load of the same key.
const backgroundWriteKey = "\x00write:"

// log writes a record about key when there is a Logger.
func (a *Aside[V]) log(ctx context.Context, level slog.Level, msg, key string, attrs ...slog.Attr) {
	if a.opts.Logger == nil {
		return
	}
	a.opts.Logger.LogAttrs(ctx, level, msg, append(attrs, slog.String("cache", a.opts.Name), slog.String("key", key))...)
}

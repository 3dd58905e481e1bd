package hoard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Calling the loader and writing its result back: timeouts, the
// fail-safe, negative entries, and the compare-and-set write-backs.

// loadAndStore calls the loader under LoadTimeout and writes the result
// back; on failure it serves a stale value within the fail-safe window.
// With SoftTimeout and a stale value at hand, a load still running after
// SoftTimeout goes on in the background while the stale value is served.
//
// done, when not nil, is called once the load has ended and written back,
// which may be after loadAndStore returns: a lock taken for the load is
// released there, so it is held as long as the load runs.
func (a *Aside[V]) loadAndStore(ctx context.Context, id, key string, loader Loader[V], mem, shared *tierRead[V], done func()) (V, error) {
	a.opts.Metrics.Miss()
	if a.opts.SoftTimeout > 0 {
		if stale, ok := a.staleWithin(mem, shared, a.opts.Clock.Now()); ok && !stale.Negative {
			return a.loadWithSoftTimeout(ctx, id, key, loader, mem, shared, stale, done)
		}
	}
	if done != nil {
		defer done()
	}
	previous := a.previousOf(mem, shared, a.opts.Clock.Now())
	return a.finishLoad(ctx, id, key, mem, shared, a.callLoader(ctx, id, loader, previous))
}

// loadResult is what one loader call gave.
type loadResult[V any] struct {
	value    V
	err      error
	end      time.Time
	took     time.Duration
	ttl      time.Duration // the loader's own TTL (SetTTL), 0 for the cache's
	previous *Entry[V]     // the entry the load refreshed, nil when none
	tags     []string      // the loader's tags (SetTags)
	epoch    int64         // the tag epoch read before the load
	// untaggable marks a load that set tags while the tag epoch could not
	// be read: its value cannot be checked later, so it is not cached.
	untaggable bool
	// abandoned marks a load that failed after its ctx ended: every caller
	// left (or Close gave up on it). That says nothing of the source, so
	// it is no failure for the fail-safe, the metrics or the backoff.
	abandoned bool
}

// callLoader calls the loader under LoadTimeout, with a ctx that lets it set
// its result's TTL and see the previous entry, and counts the call.
func (a *Aside[V]) callLoader(ctx context.Context, id string, loader Loader[V], previous *Entry[V]) loadResult[V] {
	parent := ctx
	if a.opts.LoadTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.opts.LoadTimeout)
		defer cancel()
	}
	var epoch int64
	var epochErr error
	if a.opts.Invalidator != nil {
		// Read before the load, so an invalidation during it poisons it.
		epoch, epochErr = a.opts.Invalidator.epoch(ctx)
	}
	ctx, lc := withLoadControl(ctx, previous)
	start := a.opts.Clock.Now()
	v, err := loader.Load(ctx, id)
	end := a.opts.Clock.Now()
	r := loadResult[V]{value: v, err: err, end: end, took: end.Sub(start), ttl: lc.ttl, previous: previous, epoch: epoch}
	switch {
	case err == nil:
		r.tags = a.tagsOf(id, v, lc.tagsOf(id))
	case previous != nil && errors.Is(err, ErrNotModified):
		// A renewal keeps every tag the entry had, and adds those given
		// now: dropping one would put the entry out of that tag's reach.
		r.tags = unionTags(previous.Tags, lc.tagsOf(id))
		if !previous.Negative {
			r.tags = unionTags(r.tags, a.tagsOf(id, previous.Value, nil))
		}
	default:
		r.tags = lc.tagsOf(id) // a "not found" keeps the loader's own
	}
	r.untaggable = !a.canTag(r.tags, epochErr)
	if errors.Is(err, ErrNotModified) && previous == nil {
		r.err = fmt.Errorf("hoard: the loader answered not modified, but nothing was cached: %w", err)
	}
	// parent is ctx before LoadTimeout: a load past LoadTimeout failed,
	// one whose callers left was abandoned.
	r.abandoned = r.failed() && parent.Err() != nil
	a.opts.Metrics.ObserveLoad(r.took, r.failed() && !r.abandoned)
	return r
}

// notModified reports a load that confirmed the entry it refreshes.
func (r *loadResult[V]) notModified() bool {
	return r.previous != nil && errors.Is(r.err, ErrNotModified)
}

// failed reports a load that gave neither a value, a "not found" nor a
// confirmation of the previous value.
func (r *loadResult[V]) failed() bool {
	return r.err != nil && !errors.Is(r.err, ErrNotFound) && !r.notModified()
}

// previousOf returns the newest entry the tiers held for a load to refresh:
// stale but kept, or nil.
func (a *Aside[V]) previousOf(mem, shared *tierRead[V], now time.Time) *Entry[V] {
	if e, ok := a.staleWithin(mem, shared, now); ok {
		return &e
	}
	return nil
}

// finishLoad writes a load's result back and turns it into Get's answer:
// the value, a cached "not found", or on failure a stale value within the
// fail-safe window.
func (a *Aside[V]) finishLoad(ctx context.Context, id, key string, mem, shared *tierRead[V], r loadResult[V]) (V, error) {
	var zero V
	switch {
	case r.err == nil:
		if r.untaggable {
			a.opts.Metrics.Add(EventUntaggable, TierNone, 1)
			return r.value, nil
		}
		e := a.freshEntry(r.value, r.end, r.took, r.ttl)
		e.Tags, e.TagEpoch = r.tags, r.epoch
		a.store(ctx, key, mem, shared, e, r.end)
		return r.value, nil
	case r.notModified():
		// The source confirms the previous value: renew its freshness.
		if r.untaggable {
			a.opts.Metrics.Add(EventUntaggable, TierNone, 1)
			if r.previous.Negative {
				return zero, ErrNotFound
			}
			return r.previous.Value, nil
		}
		e := a.freshEntry(r.previous.Value, r.end, r.took, r.ttl)
		e.Negative, e.Tags, e.TagEpoch = r.previous.Negative, r.tags, r.epoch
		a.store(ctx, key, mem, shared, e, r.end)
		if e.Negative {
			return zero, ErrNotFound
		}
		return e.Value, nil
	case errors.Is(r.err, ErrNotFound):
		if r.untaggable {
			a.opts.Metrics.Add(EventUntaggable, TierNone, 1)
		} else if a.opts.NegativeTTL > 0 {
			e := a.negativeEntry(r.end, r.took)
			e.Tags, e.TagEpoch = r.tags, r.epoch
			a.store(ctx, key, mem, shared, e, r.end)
		}
		return zero, r.err
	}
	if r.abandoned {
		return zero, fmt.Errorf("hoard: aside %q: load %q abandoned: %w", a.opts.Name, id, r.err)
	}
	if stale, fromShared, ok := a.staleSource(mem, shared, r.end); ok {
		a.opts.Metrics.Add(EventStaleServe, TierNone, 1)
		a.storeStale(ctx, key, mem, shared, stale, fromShared, r.end)
		if stale.Negative {
			return zero, errors.Join(ErrServedStale, ErrNotFound, r.err)
		}
		return stale.Value, errors.Join(ErrServedStale, r.err)
	}
	return zero, fmt.Errorf("hoard: aside %q: load %q: %w", a.opts.Name, id, r.err)
}

// loadWithSoftTimeout runs the load in the background and waits for it up
// to SoftTimeout; past that it serves stale and lets the load finish and
// write back on its own, then call done. A key whose background load still
// runs is served stale at once, not loaded twice.
func (a *Aside[V]) loadWithSoftTimeout(ctx context.Context, id, key string, loader Loader[V], mem, shared *tierRead[V], stale Entry[V], done func()) (V, error) {
	result := make(chan struct {
		v   V
		err error
	}, 1)
	// The caller may leave at the soft timeout: the load keeps its ctx's
	// values, not its cancellation.
	started := a.background.start(ctx, key, func(bctx context.Context) {
		if done != nil {
			defer done()
		}
		v, err := a.finishLoad(bctx, id, key, mem, shared, a.callLoader(bctx, id, loader, &stale))
		if err != nil && !errors.Is(err, ErrNotFound) {
			a.log(bctx, slog.LevelWarn, "load left to finish past the soft timeout failed", key, slog.Any("error", err))
		}
		result <- struct {
			v   V
			err error
		}{v, err}
	})
	if !started && done != nil {
		done()
	}
	if started {
		timer := time.NewTimer(a.opts.SoftTimeout)
		defer timer.Stop()
		select {
		case r := <-result:
			return r.v, r.err
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	a.opts.Metrics.Add(EventStaleServe, TierNone, 1)
	return stale.Value, errors.Join(ErrServedStale, errSoftTimeout)
}

// errSoftTimeout is joined with ErrServedStale when a slow load was left to
// finish in the background.
var errSoftTimeout = errors.New("hoard: the load ran past the soft timeout and goes on in the background")

// tagsOf is the tags of id's value v: those given for this write (by the
// loader or the Put) and those of TagsOf.
func (a *Aside[V]) tagsOf(id string, v V, given []string) []string {
	if a.opts.TagsOf == nil {
		return given
	}
	more := a.opts.TagsOf(id, v)
	if len(given) == 0 {
		return more
	}
	return append(slices.Clip(given), more...)
}

// unionTags is a's tags followed by those of b it lacks.
func unionTags(a, b []string) []string {
	out := slices.Clip(a)
	for _, t := range b {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// canTag reports whether a value with tags can be cached: its tags can be
// checked on later reads, for there is an Invalidator and the tag epoch
// was read before the value was made (epochErr is that read's error).
func (a *Aside[V]) canTag(tags []string, epochErr error) bool {
	return len(tags) == 0 || (a.opts.Invalidator != nil && epochErr == nil)
}

// tagEpoch reads the tag clock's epoch before a write of a value with tags
// (0 and nil without tags or an Invalidator).
func (a *Aside[V]) tagEpoch(ctx context.Context, tags []string) (int64, error) {
	if len(tags) == 0 || a.opts.Invalidator == nil {
		return 0, nil
	}
	return a.opts.Invalidator.epoch(ctx)
}

// negativeEntry is the entry of a "not found" loaded at now in took.
func (a *Aside[V]) negativeEntry(now time.Time, took time.Duration) Entry[V] {
	return Entry[V]{Negative: true, WrittenAt: now, LoadDuration: took, ExpiresAt: now.Add(a.jittered(a.opts.NegativeTTL))}
}

// throttled is a stale entry the fail-safe served at now, to be served as
// fresh for FailSafeThrottle, so a failing source is not asked again by
// every read; but never past the end of its fail-safe window.
func (a *Aside[V]) throttled(stale Entry[V], now time.Time) Entry[V] {
	keep := stale.KeepUntil()
	stale.ExpiresAt = now.Add(a.opts.FailSafeThrottle)
	if !keep.IsZero() && stale.ExpiresAt.After(keep) {
		stale.ExpiresAt = keep
	}
	return stale
}

// freshEntry is the entry of a value loaded at now in took, fresh for ttl
// (0: the cache's TTL), jittered.
func (a *Aside[V]) freshEntry(v V, now time.Time, took, ttl time.Duration) Entry[V] {
	if ttl <= 0 {
		ttl = a.opts.TTL
	}
	e := Entry[V]{Value: v, WrittenAt: now, LoadDuration: took, ExpiresAt: now.Add(a.jittered(ttl))}
	if a.opts.FailSafe > 0 {
		e.StaleUntil = e.ExpiresAt.Add(a.opts.FailSafe)
	}
	return e
}

// staleWithin returns the newest stale entry the tiers held that is still
// within its fail-safe window at now.
func (a *Aside[V]) staleWithin(mem, shared *tierRead[V], now time.Time) (Entry[V], bool) {
	e, _, ok := a.staleSource(mem, shared, now)
	return e, ok
}

// staleSource is staleWithin that also tells whether the entry is the
// shared tier's (else the memory tier's).
func (a *Aside[V]) staleSource(mem, shared *tierRead[V], now time.Time) (best Entry[V], fromShared, found bool) {
	for i, r := range []*tierRead[V]{mem, shared} {
		if r.found && r.entry.IsKept(now) && (!found || r.entry.WrittenAt.After(best.WrittenAt)) {
			best, fromShared, found = r.entry, i == 1, true
		}
	}
	return best, fromShared, found
}

// storeStale writes back the stale entry the fail-safe served, throttled:
// to the memory tier, and to the shared tier only when it is the shared
// tier's own. The memory tier is read before the shared one, so its entry
// may be older than a Delete the shared tier's token already saw: written
// there, the deleted value would be served again.
func (a *Aside[V]) storeStale(ctx context.Context, key string, mem, shared *tierRead[V], stale Entry[V], fromShared bool, now time.Time) {
	e := a.throttled(stale, now)
	if fromShared {
		a.writeBack(ctx, a.opts.Shared, shared, key, e)
	}
	a.writeBack(ctx, a.opts.Memory, mem, key, a.forMemory(e, now))
}

// store writes e back to both tiers, each only if its token still holds.
func (a *Aside[V]) store(ctx context.Context, key string, mem, shared *tierRead[V], e Entry[V], now time.Time) {
	a.storeShared(ctx, key, shared, e)
	a.writeBack(ctx, a.opts.Memory, mem, key, a.forMemory(e, now))
}

// forMemory caps an entry's freshness at MemoryTTL from now, the memory
// tier's max staleness.
func (a *Aside[V]) forMemory(e Entry[V], now time.Time) Entry[V] {
	if limit := now.Add(a.opts.MemoryTTL); e.ExpiresAt.IsZero() || e.ExpiresAt.After(limit) {
		if e.StaleUntil.IsZero() && !e.ExpiresAt.IsZero() {
			e.StaleUntil = e.ExpiresAt // keep the fail-safe window the shared tier has
		}
		e.ExpiresAt = limit
	}
	return e
}

// writeBack writes e to c with compare-and-set when c takes tokens: a load
// that lost to a write or an invalidation of the key stores nothing.
func (a *Aside[V]) writeBack(ctx context.Context, c Cache[V], r *tierRead[V], key string, e Entry[V]) {
	if c == nil || a.skips(ctx, c) {
		return
	}
	var err error
	if cas, ok := c.(CompareAndSetter[V]); ok && r.hasTok {
		err = cas.CompareAndSet(ctx, key, r.token, e)
	} else if !ok {
		err = c.Set(ctx, key, e)
	} else {
		return // the token could not be read: writing could put back a stale value
	}
	if err != nil && !errors.Is(err, ErrConflict) {
		tier := TierShared
		if c == a.opts.Memory {
			tier = TierMemory
		}
		a.opts.Metrics.Add(EventBackendError, tier, 1)
	}
}

// jittered shortens ttl by a random share of up to Jitter.
func (a *Aside[V]) jittered(ttl time.Duration) time.Duration {
	if a.opts.Jitter <= 0 {
		return ttl
	}
	return ttl - time.Duration(a.opts.Jitter*a.opts.Rand()*float64(ttl))
}

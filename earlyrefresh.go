package hoard

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"
)

// Probabilistic early refresh, after Vattani, Chierichetti and Lowenstein,
// "Optimal Probabilistic Cache Stampede Prevention" (VLDB 2015): a reader
// of a fresh entry recomputes it early when
//
//	now - delta*beta*ln(rand()) >= expiry
//
// where delta is how long the entry's last load took (Entry.LoadDuration,
// which travels with the entry, so every instance reading it from Redis
// uses the same delta), beta scales the eagerness (1 is optimal for the
// paper's model) and rand() is uniform on (0, 1]. -ln(rand()) is
// exponentially distributed, so the chance of refreshing grows smoothly as
// expiry nears: with r = expiry - now left, it is exp(-r/(delta*beta)).
// One reader, on average, refreshes before the entry expires; the others
// keep being answered from the cache, and nobody waits for the recompute.

// xfetch is the XFetch decision for an entry expiring at expiresAt whose
// load took delta, at now, with the draw u, uniform on (0, 1]. Entries that
// never expire, or with no load duration, are never refreshed early.
func xfetch(expiresAt time.Time, delta time.Duration, now time.Time, beta, u float64) bool {
	if expiresAt.IsZero() || delta <= 0 || beta <= 0 {
		return false
	}
	if u <= 0 || u > 1 {
		u = 1 // outside (0, 1]: the least eager draw
	}
	gap := -float64(delta) * beta * math.Log(u) // ≥ 0
	if gap >= float64(math.MaxInt64) {
		return true
	}
	return !now.Add(time.Duration(gap)).Before(expiresAt)
}

// ErrNotModified, returned by a loader, says the source's value has not
// changed since the entry the load refreshes (see [PreviousEntry]): the
// cache keeps that entry's value and renews its freshness, as an HTTP 304
// does.
var ErrNotModified = errors.New("hoard: not modified")

// loadControl is what a loader can read and say about one load, carried in
// its ctx.
type loadControl struct {
	ttl      time.Duration       // the TTL the loader chose; 0: the cache's
	previous any                 // *Entry[V] the load refreshes, or nil
	mu       sync.Mutex          // guards tags and tagsFor: a batch loader may tag from many goroutines
	tags     []string            // the tags the loader gave every value (SetTags)
	tagsFor  map[string][]string // the tags the loader gave one id's value (SetTagsFor)
}

// tagsOf returns the tags the loader gave id's value.
func (lc *loadControl) tagsOf(id string) []string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if len(lc.tagsFor[id]) == 0 {
		return lc.tags
	}
	return append(slices.Clip(lc.tags), lc.tagsFor[id]...)
}

type loadControlKey struct{}

// withLoadControl returns ctx carrying a fresh loadControl for a load that
// refreshes previous (nil for none).
func withLoadControl[V any](ctx context.Context, previous *Entry[V]) (context.Context, *loadControl) {
	lc := &loadControl{}
	if previous != nil {
		lc.previous = previous
	}
	return context.WithValue(ctx, loadControlKey{}, lc), lc
}

// SetTTL, called by a loader with the ctx it was given, sets how long the
// value it returns stays fresh, instead of the cache's TTL (adaptive
// caching: long for stable rows, short for hot ones). Jitter still applies.
// It does nothing outside a load or with ttl ≤ 0.
func SetTTL(ctx context.Context, ttl time.Duration) {
	if lc, ok := ctx.Value(loadControlKey{}).(*loadControl); ok && ttl > 0 {
		lc.ttl = ttl
	}
}

// SetTags, called by a loader with the ctx it was given, tags the value it
// returns (for example "product:42", "category:7"), so that
// [Invalidator.InvalidateTags] of any of them makes the cached value invalid
// everywhere. A "not found" the loader returns is tagged too: the tag's
// invalidation then ends the cached "not found" as well. In a batch load
// ([Aside.GetMany]) it tags every value of the batch; [SetTagsFor] tags
// one. The tags add to those of AsideOptions.TagsOf. A "not modified"
// answer ([ErrNotModified]) renews the entry with every tag it had, these
// added.
//
// A value with tags is cached only when they can be checked later: an
// Aside without an Invalidator, or whose tag clock cannot be read, returns
// the value uncached and counts [EventUntaggable]. SetTags does nothing
// outside a load, and reports whether ctx is a load's.
func SetTags(ctx context.Context, tags ...string) bool {
	lc, ok := ctx.Value(loadControlKey{}).(*loadControl)
	if ok {
		lc.mu.Lock()
		lc.tags = append(lc.tags, tags...)
		lc.mu.Unlock()
	}
	return ok
}

// SetTagsFor, called by a batch loader with the ctx it was given, tags the
// value (or "not found") of id alone; in a single load it tags the value
// when id is the id loaded. Otherwise it is [SetTags]; it does nothing
// outside a load, and reports whether ctx is a load's.
func SetTagsFor(ctx context.Context, id string, tags ...string) bool {
	lc, ok := ctx.Value(loadControlKey{}).(*loadControl)
	if ok {
		lc.mu.Lock()
		if lc.tagsFor == nil {
			lc.tagsFor = make(map[string][]string)
		}
		lc.tagsFor[id] = append(lc.tagsFor[id], tags...)
		lc.mu.Unlock()
	}
	return ok
}

// PreviousEntry, called by a loader with the ctx it was given, returns the
// entry the load refreshes (an early or background refresh, or a load of an
// expired entry still kept for the fail-safe). A loader that can tell the
// source has not changed since (a version column, an ETag) returns
// [ErrNotModified] and the cache keeps the previous value.
func PreviousEntry[V any](ctx context.Context) (Entry[V], bool) {
	if lc, ok := ctx.Value(loadControlKey{}).(*loadControl); ok {
		if e, ok := lc.previous.(*Entry[V]); ok && e != nil {
			return *e, true
		}
	}
	return Entry[V]{}, false
}

// maxXFetchDraw bounds -ln(u) for u drawn from a float64 in (0, 1]: no draw
// reaches further than 2^-53, whose -ln is about 36.7. Far enough from
// expiry the decision is false whatever the draw, and no draw is made.
const maxXFetchDraw = 36.8

// maybeRefreshEarly starts a background refresh of id when XFetch says so
// for e, the fresh entry a reader is about to get. The reader does not wait.
func (a *Aside[V]) maybeRefreshEarly(ctx context.Context, id string, loader Loader[V], e *Entry[V], now time.Time) {
	if !a.opts.EarlyRefresh || loader == nil || e.ExpiresAt.IsZero() || e.LoadDuration <= 0 {
		return
	}
	if reach := float64(e.LoadDuration) * a.opts.Beta * maxXFetchDraw; float64(e.ExpiresAt.Sub(now)) > reach {
		return // too far from expiry for any draw
	}
	if !a.pacer.draw(id, e.ExpiresAt, now, a.drawInterval(e.LoadDuration)) {
		return // a draw for this entry was made a moment ago
	}
	if !xfetch(e.ExpiresAt, e.LoadDuration, now, a.opts.Beta, 1-a.opts.Rand()) {
		return
	}
	key, err := a.storageKey(ctx, id)
	if err != nil || a.backoff.waiting(key, now) {
		return
	}
	current := *e
	if a.background.start(ctx, key, func(bctx context.Context) { a.refresh(bctx, id, key, loader, &current) }) {
		a.opts.Metrics.Add(EventEarlyRefresh, TierNone, 1)
	}
}

// drawInterval is the least time between two XFetch draws for an entry
// whose load took delta; 0 draws on every read.
func (a *Aside[V]) drawInterval(delta time.Duration) time.Duration {
	if a.opts.EarlyRefreshDraws < 0 {
		return 0
	}
	return delta / time.Duration(a.opts.EarlyRefreshDraws)
}

// refresh is a background refresh of id, whose current entry is current.
// If the shared tier already holds a later entry that is not itself due (a
// refresh by another instance, or a memory copy cut short by MemoryTTL), it
// only copies that into the memory tier. Otherwise it loads, under the
// key's lock when there is a Locker; when another process holds the lock,
// that process refreshes and this one does nothing. A failed refresh leaves
// the current value in place and backs off.
func (a *Aside[V]) refresh(ctx context.Context, id, key string, loader Loader[V], current *Entry[V]) {
	mem, shared := a.readBoth(ctx, key)
	if a.laterInShared(ctx, key, &mem, &shared, current) {
		return
	}
	if a.opts.Locker != nil {
		lock, err := a.opts.Locker.TryLock(ctx, key, a.opts.LockTTL)
		switch {
		case errors.Is(err, ErrLockHeld):
			return
		case err != nil:
			a.opts.Metrics.Add(EventBackendError, TierShared, 1)
		default:
			defer a.release(ctx, key, lock)
			stop := a.keepRefreshed(ctx, lock)
			defer stop()
			// Another process may have refreshed between the read and
			// the lock.
			mem, shared = a.readBoth(ctx, key)
			if a.laterInShared(ctx, key, &mem, &shared, current) {
				return
			}
		}
	}
	r := a.callLoader(ctx, id, loader, current)
	if r.abandoned {
		return // Close gave up on it: nothing to learn of the source
	}
	if r.failed() {
		a.backoff.failed(key, r.end, a.opts.RefreshBackoff, a.opts.TTL)
		a.log(ctx, slog.LevelWarn, "background refresh failed: the current value is kept, retried after a backoff", key, slog.Any("error", r.err))
		return
	}
	a.backoff.succeeded(key)
	_, _ = a.finishLoad(ctx, id, key, &mem, &shared, r)
}

// laterInShared copies the shared tier's entry into the memory tier and
// reports true when it expires after current and is not due for a refresh
// itself.
func (a *Aside[V]) laterInShared(ctx context.Context, key string, mem, shared *tierRead[V], current *Entry[V]) bool {
	now := a.opts.Clock.Now()
	e := &shared.entry
	if !shared.found || !e.IsFresh(now) || !e.ExpiresAt.After(current.ExpiresAt) ||
		xfetch(e.ExpiresAt, e.LoadDuration, now, a.opts.Beta, 1-a.opts.Rand()) {
		return false
	}
	a.writeBack(ctx, a.opts.Memory, mem, key, a.forMemory(*e, now))
	return true
}

// refreshBackoff remembers keys whose background refresh failed, so the
// next is tried only after a delay that doubles with each failure in a row.
type refreshBackoff struct {
	mu   sync.Mutex
	keys map[string]backoffState // guarded by mu
}

type backoffState struct {
	until time.Time
	delay time.Duration
}

// maxBackoffKeys bounds the keys remembered; past it, those whose delay has
// run out are forgotten.
const maxBackoffKeys = 4096

func (b *refreshBackoff) waiting(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.keys[key]
	return ok && now.Before(s.until)
}

func (b *refreshBackoff) failed(key string, now time.Time, base, limit time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keys == nil {
		b.keys = make(map[string]backoffState)
	}
	delay := base
	if s, ok := b.keys[key]; ok {
		delay = min(2*s.delay, max(limit, base))
	}
	if len(b.keys) >= maxBackoffKeys {
		for k, s := range b.keys {
			if !now.Before(s.until) {
				delete(b.keys, k)
			}
		}
	}
	b.keys[key] = backoffState{until: now.Add(delay), delay: delay}
}

func (b *refreshBackoff) succeeded(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.keys, key)
}

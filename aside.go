package hoard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Aside is cache-aside for one endpoint: Get reads the memory tier, then the
// shared tier, then calls the loader, once per key at a time in the process,
// and writes the result back to both tiers unless the key was written or
// invalidated meanwhile. It caches "not found" answers, jitters TTLs, and
// with a fail-safe serves a stale value when the loader fails.
type Aside[V any] struct {
	opts asideSettings[V]
	// guarded is set when the shared tier is behind a SharedBudget or a
	// Breaker.
	guarded    bool
	flights    FlightGroup[V]
	background backgroundLoads
	releases   atomic.Uint64 // numbers the lock releases retried (retryRelease)
	closing    chan struct{} // closed by the first Close: release retries end
	closeOnce  sync.Once
	backoff    refreshBackoff
	pacer      *drawPacer // nil without EarlyRefresh
	// stopListening unsubscribes from the bus, once.
	stopListening func()
	// memoryByID is the memory tier as an IDKeyGetter, nil when it is
	// not one: asserted once here, not on every hit.
	memoryByID IDKeyGetter[V]
}

// NewAside returns a cache-aside configured by options (which it copies; nil
// is refused: Memory or Shared is required). Bad options give an error
// wrapping [ErrInvalidOption].
func NewAside[V any](options *AsideOptions[V]) (*Aside[V], error) {
	if options == nil {
		return nil, fmt.Errorf("%w: aside: nil options (Memory or Shared is required)", ErrInvalidOption)
	}
	o, err := options.settings() // a copy: the caller's stay as they were
	if err != nil {
		return nil, err
	}
	a := &Aside[V]{opts: o, stopListening: func() {}, closing: make(chan struct{})}
	_, a.guarded = o.Shared.(*guardedTier[V])
	a.background.panicked = func(p *PanicError) {
		a.opts.Metrics.Add(EventLoadError, TierNone, 1)
		a.log(context.Background(), slog.LevelError, "background load panicked", p.Key, slog.Any("panic", p.Value), slog.String("stack", string(p.Stack)))
	}
	if o.MaxBackground > 0 {
		a.background.limit = semaphore.NewWeighted(int64(o.MaxBackground))
		a.background.skipped = func(key string) {
			a.opts.Metrics.Add(EventDropped, TierNone, 1)
			a.log(context.Background(), slog.LevelDebug, "background work skipped: MaxBackground reached", key)
		}
	}
	if a.memoryByID, _ = o.Memory.(IDKeyGetter[V]); a.memoryByID != nil {
		// The Aside introduces itself to its memory tier with one read by
		// id: a tier not written to yet then stores this Aside's keys in
		// its own form (see IDKeyGetter), even when the first thing the
		// Aside does is write (a write-through warming the cache). The
		// read's answer, a miss, says nothing.
		_, _ = a.memoryByID.GetID(context.Background(), IDKey{Keys: &a.opts.Keys})
	}
	if o.EarlyRefresh {
		a.pacer = newDrawPacer()
	}
	if o.Bus != nil {
		a.stopListening = sync.OnceFunc(o.Bus.Subscribe(a.applyInvalidations))
	}
	return a, nil
}

// Close stops listening to the bus, ends the retries of lock releases
// that failed (after one last attempt each: see retryRelease), and waits
// until the loads running in the background (past their soft timeout, or
// early refreshes) have finished, or ctx ends. The Aside stays usable,
// without the bus and without release retries: loads that later calls
// send to the background are waited for by the next Close.
func (a *Aside[V]) Close(ctx context.Context) error {
	a.closeOnce.Do(func() { close(a.closing) })
	a.stopListening()
	return a.background.wait(ctx)
}

// Metrics returns the cache's metrics.
func (a *Aside[V]) Metrics() *Metrics { return a.opts.Metrics }

// Key returns the storage key of id: with a Namespace, under the version
// this instance knows now. When it knows none it reads the version, for at
// most keyReadTimeout, and returns "" when that cannot be read.
func (a *Aside[V]) Key(id string) string {
	if a.opts.Namespace != "" {
		if v, ok := a.opts.Invalidator.knownNamespaceVersion(a.opts.Namespace); ok {
			return a.keyIn(v.text, id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), keyReadTimeout)
	defer cancel()
	k, _ := a.storageKey(ctx, id)
	return k
}

// keyReadTimeout bounds the read of a namespace version by Key, which has
// no ctx.
const keyReadTimeout = time.Second

// storageKey is the key of id in the tiers: with a Namespace, the
// namespace's current version is a part of it.
func (a *Aside[V]) storageKey(ctx context.Context, id string) (string, error) {
	ns, err := a.namespaceText(ctx)
	if err != nil {
		return "", err
	}
	return a.keyIn(ns, id), nil
}

// unversioned is the namespace part of the flight keys of loads made
// while no namespace version is known. No version's text has a '%'.
const unversioned = "%unversioned"

// keyStill reports whether key is still id's key now, reading the
// namespace's version past the local copy: a writer whose key was taken
// before its store call asks after it, since a bump in between makes
// readers load the old row under the new version.
func (a *Aside[V]) keyStill(ctx context.Context, id, key string) (bool, error) {
	if a.opts.Namespace == "" {
		return true, nil
	}
	v, err := a.opts.Invalidator.currentNamespaceVersion(ctx, a.opts.Namespace)
	if err != nil {
		return false, fmt.Errorf("hoard: aside %q: %w", a.opts.Name, err)
	}
	return a.keyIn(v.text, id) == key, nil
}

// keyIn is the key of id in namespace version ns ("" for none).
func (a *Aside[V]) keyIn(ns, id string) string {
	if ns == "" {
		return a.opts.Keys.Key(id)
	}
	return a.opts.Keys.Key(ns, id)
}

// namespaceText is the namespace's version as a key part, "" without a
// namespace. When the version cannot be read it is the last version this
// instance knew (counted as a backend error), so the memory tier, the
// flight group and the fail-safe go on working while Redis is down; an
// error only when no version was ever known (or the bus dropped it).
func (a *Aside[V]) namespaceText(ctx context.Context) (string, error) {
	ns, _, err := a.namespaceRead(ctx)
	return ns, err
}

// namespaceRead is namespaceText that also reports whether the version's
// read ran past the shared tier's hard timeout: the rest of a Get then
// skips the tier, as after an entry read past it.
func (a *Aside[V]) namespaceRead(ctx context.Context) (ns string, spent bool, err error) {
	if a.opts.Namespace == "" {
		return "", false, nil
	}
	v, err := a.opts.Invalidator.namespaceVersion(ctx, a.opts.Namespace)
	if errors.Is(err, errVersionUnconfirmed) {
		a.opts.Metrics.Add(EventBackendError, TierShared, 1)
		return v.text, errors.As(err, new(errHardTimeout)), nil
	}
	if err != nil {
		return "", false, fmt.Errorf("hoard: aside %q: %w", a.opts.Name, err)
	}
	return v.text, false, nil
}

// usable reports whether an entry may be served: no tag of it was
// invalidated after its load began.
func (a *Aside[V]) usable(ctx context.Context, e *Entry[V]) bool {
	return len(e.Tags) == 0 || a.opts.Invalidator == nil || a.opts.Invalidator.valid(ctx, e.Tags, e.TagEpoch)
}

// Get returns the value of id: from the memory tier, the shared tier, or
// loader. A "not found" from the loader (cached for the negative TTL) gives
// an error wrapping [ErrNotFound]. When the loader fails and a value is
// within the fail-safe window, Get returns that stale value with an error
// joining [ErrServedStale] and the loader's error.
//
// A failing tier never fails Get: it is counted as a backend error in the
// metrics and read past.
func (a *Aside[V]) Get(ctx context.Context, id string, loader Loader[V]) (V, error) {
	return a.get(ctx, id, loader, nil, false)
}

// get is Get, recording in src (when set) what answered, and skipping the
// memory tier's read with skipMemory (GetWith's other options travel in
// ctx to the load). A hit from memory, its common case, is answered here
// in a small frame; everything else is getPast's.
func (a *Aside[V]) get(ctx context.Context, id string, loader Loader[V], src *Source, skipMemory bool) (V, error) {
	var ns string
	var spent bool // the namespace's read ran past the hard timeout
	if a.opts.Namespace != "" {
		var err error
		if ns, spent, err = a.namespaceRead(ctx); err != nil {
			return a.getUnversioned(ctx, id, loader, src)
		}
	}
	var e *Entry[V] // the memory tier's entry of id, shared with the tier: read only
	if a.opts.Memory != nil && !skipMemory {
		if e = a.memoryEntry(ctx, ns, id); e != nil && a.servesAtOnce(ctx, e) {
			if e.Negative {
				return a.memoryAnswer(e, src)
			}
			a.opts.Metrics.hitHere(EventHit, TierMemory) // memoryAnswer's, without a frame to copy V through
			answered(src, SourceMemory, nil)
			return e.Value, nil
		}
	}
	return a.getPast(ctx, ns, id, loader, src, e, spent)
}

// getUnversioned answers Get while no version of the namespace is known:
// from the source, uncached, but still one load at a time, since there is
// no key.
func (a *Aside[V]) getUnversioned(ctx context.Context, id string, loader Loader[V], src *Source) (V, error) {
	a.opts.Metrics.Add(EventBackendError, TierShared, 1)
	v, err, _ := a.flights.Do(ctx, a.keyIn(unversioned, id), func(ctx context.Context) (V, error) {
		r := a.callLoader(ctx, id, loader, nil)
		return r.value, r.err
	})
	answered(src, SourceLoader, err)
	return v, err
}

// getPast is Get for what a look at the memory tier without the clock
// could not answer: memory holds e (nil for none), which may be fresh but
// need the clock or an early refresh to tell, or be stale, or carry a tag
// to check; then the shared tier, then the load. spent says that the
// namespace's read ran past the shared tier's hard timeout.
func (a *Aside[V]) getPast(ctx context.Context, ns, id string, loader Loader[V], src *Source, e *Entry[V], spent bool) (V, error) {
	now := a.opts.Clock.Now()
	var stale *Entry[V] // a memory entry past its freshness, kept by the fail-safe
	if e != nil {
		if e.IsFresh(now) {
			if a.usable(ctx, e) {
				if a.opts.EarlyRefresh {
					a.maybeRefreshEarly(ctx, id, loader, e, now)
				}
				return a.memoryAnswer(e, src)
			}
		} else {
			stale = e
		}
	}
	key := a.keyIn(ns, id)
	var seen *tierReads[V]
	if a.opts.Shared != nil && !flagsOf(ctx).skipShared {
		if a.guarded {
			// One shared-tier call past its hard timeout makes the rest of
			// this Get skip the tier, leaving the loader its time.
			ctx = withSharedSkip(ctx, spent)
		}
		// Read before the tiers: a load of key by this process that ends
		// after it may have filled them since.
		landed := a.flights.landed.Load()
		// The memory tier's token is taken before the shared tier is read,
		// so an invalidation in between keeps the value out of memory.
		mem := a.read(ctx, a.opts.Memory, TierMemory, key)
		sctx := ctx
		if stale != nil && a.opts.SoftShared > 0 && a.opts.FailSafe > 0 { // a stale copy only within a fail-safe window
			if stale.Negative || !stale.IsKept(now) || !a.usable(ctx, stale) {
				stale = nil
			} else {
				sctx = withSoftBudget(ctx, a.opts.SoftShared)
			}
		}
		shared := a.read(sctx, a.opts.Shared, TierShared, key)
		if e := &shared.entry; shared.found && e.IsFresh(now) {
			a.writeBack(ctx, a.opts.Memory, &mem, key, a.forMemory(*e, now))
			a.maybeRefreshEarly(ctx, id, loader, e, now)
			v, err := a.answer(e, TierShared)
			answered(src, SourceShared, err)
			return v, err
		}
		if errors.Is(shared.err, errSoftTimeoutShared) && stale != nil {
			v, err := a.serveStaleOverSlowShared(ctx, id, key, loader, *stale)
			answered(src, SourceStale, err)
			return v, err
		}
		seen = &tierReads[V]{mem: mem, shared: shared, landed: landed}
	}
	load := func(ctx context.Context) (V, error) { return a.load(ctx, id, key, loader, seen) }
	s := a.since(now)
	v, _, older, err := a.flights.doSince(ctx, key, s, load)
	if older {
		// A tag invalidation returned after that load began and before
		// this Get did (heard of, or owed by now though unheard of), and
		// its value may carry the tag. Its write-back was checked against
		// the tag clock: take the value from the tiers, where it is only
		// if still valid, or load anew. (An invalidation that names the
		// key detaches its load instead, so a Get begun after it never
		// joins it.)
		mem, shared := a.readBoth(ctx, key)
		if v, from, err := a.freshIn(ctx, key, &mem, &shared); from != SourceNone {
			answered(src, from, err)
			return v, err
		}
		// Every load of key running now began after this Get did.
		v, _, _, err = a.flights.doSince(ctx, key, s, load)
	}
	if err != nil && a.guarded && !errors.Is(err, ErrNotFound) {
		err = sharedSkippedIn(ctx, err, a.opts.HardShared)
	}
	answered(src, SourceLoader, err)
	return v, err
}

// since is what a Get at now knows of the invalidations that may concern
// a key without naming it (see FlightGroup.doSince).
func (a *Aside[V]) since(now time.Time) since {
	trust := a.shortestTTL()
	if inv := a.opts.Invalidator; inv != nil {
		trust = min(trust, inv.opts.MaxStaleness)
	}
	return since{gen: a.tagChanges(), now: now, notBefore: now.Add(-trust)}
}

// shortestTTL is the least time a loaded entry stays fresh: TTL (or
// NegativeTTL) shortened by the whole Jitter. A loader's SetTTL may make
// one shorter still.
func (a *Aside[V]) shortestTTL() time.Duration {
	shortest := func(ttl time.Duration) time.Duration { return ttl - time.Duration(a.opts.Jitter*float64(ttl)) }
	d := shortest(a.opts.TTL)
	if a.opts.NegativeTTL > 0 {
		d = min(d, shortest(a.opts.NegativeTTL))
	}
	return d
}

// tagChanges counts the tag invalidations (and flushes) made here or heard
// of through the Invalidator: a load begun before the latest one may hold a
// value with an invalidated tag.
func (a *Aside[V]) tagChanges() uint64 {
	if a.opts.Invalidator == nil {
		return 0
	}
	return a.opts.Invalidator.tagChanges.Load()
}

// forgetLoads detaches the loads running for keys (see FlightGroup.forget).
func (a *Aside[V]) forgetLoads(keys ...string) {
	a.flights.forget(func(k string) bool { return slices.Contains(keys, k) })
}

// memoryEntry returns id's entry in the memory tier (in namespace version
// ns), or nil when the tier has none or fails (counted as a backend
// error). The entry may be the tier's own: read it only.
func (a *Aside[V]) memoryEntry(ctx context.Context, ns, id string) *Entry[V] {
	if g := a.memoryByID; g != nil {
		e, err := g.GetID(ctx, IDKey{Keys: &a.opts.Keys, Version: ns, ID: id})
		if err != nil {
			a.memoryMissed(err)
			return nil
		}
		return e
	}
	return a.memoryEntryByKey(ctx, ns, id)
}

// memoryEntryByKey is memoryEntry for a tier that is no IDKeyGetter.
func (a *Aside[V]) memoryEntryByKey(ctx context.Context, ns, id string) *Entry[V] {
	e, err := a.opts.Memory.Get(ctx, a.keyIn(ns, id))
	if err != nil {
		a.memoryMissed(err)
		return nil
	}
	return &e
}

// memoryMissed counts a failed read of the memory tier; a miss is no
// failure.
func (a *Aside[V]) memoryMissed(err error) {
	if !errors.Is(err, ErrNotFound) {
		a.opts.Metrics.Add(EventBackendError, TierMemory, 1)
	}
}

// servesAtOnce reports whether Get may answer with memory's entry e
// without reading the clock: e is fresh by the tier's own expiry (a tier
// never returns an entry past its KeepUntil, so an entry kept only while
// fresh, with no fail-safe window, is fresh), no early refresh needs the
// time, and no tag of e was invalidated after its load began.
func (a *Aside[V]) servesAtOnce(ctx context.Context, e *Entry[V]) bool {
	keptOnlyFresh := e.StaleUntil.IsZero() || e.ExpiresAt.IsZero() || !e.StaleUntil.After(e.ExpiresAt)
	return keptOnlyFresh && !a.opts.EarlyRefresh && a.usable(ctx, e)
}

// memoryAnswer answers Get with memory's fresh entry e and counts it.
func (a *Aside[V]) memoryAnswer(e *Entry[V], src *Source) (V, error) {
	if e.Negative {
		a.opts.Metrics.hitHere(EventNegativeHit, TierMemory)
		answered(src, SourceMemory, ErrNotFound)
		var zero V
		return zero, ErrNotFound
	}
	a.opts.Metrics.hitHere(EventHit, TierMemory)
	answered(src, SourceMemory, nil)
	return e.Value, nil
}

// answer turns a fresh entry into Get's result and counts it.
func (a *Aside[V]) answer(e *Entry[V], tier Tier) (V, error) {
	if e.Negative {
		a.opts.Metrics.Add(EventNegativeHit, tier, 1)
		var zero V
		return zero, ErrNotFound
	}
	a.opts.Metrics.Hit(tier)
	return e.Value, nil
}

// tierReads are Get's reads of both tiers, which a load it starts may use
// instead of reading again (see Aside.load).
type tierReads[V any] struct {
	mem, shared tierRead[V]
	landed      uint64 // the flight group's landed count before the reads
}

// tierRead is what the load's own read of a tier found.
type tierRead[V any] struct {
	entry  Entry[V]
	found  bool  // entry holds a (fresh or stale) entry
	token  Token // the key's token, when hasTok
	hasTok bool
	err    error // the read's error, ErrNotFound included
}

// read reads key from c, taking its token when c can compare-and-set.
func (a *Aside[V]) read(ctx context.Context, c Cache[V], tier Tier, key string) tierRead[V] {
	var r tierRead[V]
	if c == nil || a.skips(ctx, c) {
		return r
	}
	var err error
	if cas, ok := c.(CompareAndSetter[V]); ok {
		r.entry, r.token, err = cas.GetWithToken(ctx, key)
		// An entry that no longer decodes (its type changed in a deploy)
		// still has a token when its header could be read: the load's
		// write-back then repairs it.
		r.hasTok = err == nil || errors.Is(err, ErrNotFound) || (errors.Is(err, ErrCorrupt) && r.token != 0)
	} else {
		r.entry, err = c.Get(ctx, key)
	}
	// An entry whose tags were invalidated is as good as absent: never
	// served, not even stale.
	r.found = err == nil && a.usable(ctx, &r.entry)
	r.err = err
	// A read past its soft timeout met a slow tier, not a failed one.
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, errSoftTimeoutShared) {
		a.opts.Metrics.Add(EventBackendError, tier, 1)
	}
	return r
}

// readBoth reads both tiers with their tokens.
func (a *Aside[V]) readBoth(ctx context.Context, key string) (mem, shared tierRead[V]) {
	return a.read(ctx, a.opts.Memory, TierMemory, key), a.read(ctx, a.opts.Shared, TierShared, key)
}

// freshIn answers from what the tiers hold when it is fresh, filling the
// memory tier from the shared one, and says which tier answered
// (SourceNone: neither holds a fresh entry).
func (a *Aside[V]) freshIn(ctx context.Context, key string, mem, shared *tierRead[V]) (V, Source, error) {
	now := a.opts.Clock.Now()
	if mem.found && mem.entry.IsFresh(now) {
		v, err := a.answer(&mem.entry, TierMemory)
		return v, SourceMemory, err
	}
	if shared.found && shared.entry.IsFresh(now) {
		a.writeBack(ctx, a.opts.Memory, mem, key, a.forMemory(shared.entry, now))
		v, err := a.answer(&shared.entry, TierShared)
		return v, SourceShared, err
	}
	var zero V
	return zero, SourceNone, nil
}

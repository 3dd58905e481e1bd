package hoard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Aside is cache-aside for one endpoint: Get reads the memory tier, then the
// shared tier, then calls the loader, once per key at a time in the process,
// and writes the result back to both tiers unless the key was written or
// invalidated meanwhile. It caches "not found" answers, jitters TTLs, and
// with a fail-safe serves a stale value when the loader fails.
type Aside[V any] struct {
	opts       AsideOptions[V]
	flights    FlightGroup[V]
	background backgroundLoads
	backoff    refreshBackoff
	// stopListening unsubscribes from the bus, once.
	stopListening func()
	// memoryBytes is the memory tier as a KeyBytesGetter, nil when it is
	// not one: asserted once here, not on every hit.
	memoryBytes KeyBytesGetter[V]
}

// NewAside returns a cache-aside configured by opts. Bad options give an
// error wrapping [ErrInvalidOption].
func NewAside[V any](opts AsideOptions[V]) (*Aside[V], error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Aside[V]{opts: o, stopListening: func() {}}
	a.memoryBytes, _ = o.Memory.(KeyBytesGetter[V])
	if o.Bus != nil {
		a.stopListening = sync.OnceFunc(o.Bus.Subscribe(a.applyInvalidations))
	}
	return a, nil
}

// Close stops listening to the bus and waits until the loads running in
// the background (past their soft timeout, or early refreshes) have
// finished, or ctx ends. The Aside stays usable, without the bus: loads
// that later calls send to the background are waited for by the next Close.
func (a *Aside[V]) Close(ctx context.Context) error {
	a.stopListening()
	return a.background.wait(ctx)
}

// DeletePrefix invalidates every id that starts with idPrefix, in both
// tiers of this instance, and tells other instances through the bus. On
// Redis it SCANs the keyspace: O(n) in the keys Redis holds, and a key
// written while it runs may survive it. Prefer a Namespace bump or tags,
// which invalidate in O(1). It returns how many shared-tier keys it deleted.
func (a *Aside[V]) DeletePrefix(ctx context.Context, idPrefix string) (int, error) {
	ns, err := a.namespaceText(ctx)
	if err != nil {
		return 0, err
	}
	// Escaping is byte by byte, so the key of idPrefix is a prefix of the
	// key of every id that starts with it. Only the trailing part
	// separator is absent: a prefix of the last part.
	prefix := a.keyIn(ns, idPrefix)
	var errs []error
	n := 0
	if pd, ok := a.opts.Shared.(PrefixDeleter); ok {
		n, err = pd.DeletePrefix(ctx, prefix)
		errs = append(errs, err)
	} else if a.opts.Shared != nil {
		errs = append(errs, fmt.Errorf("hoard: aside %q: the shared tier cannot delete by prefix", a.opts.Name))
	}
	if a.opts.Memory != nil {
		if pd, ok := a.opts.Memory.(PrefixDeleter); ok {
			_, err = pd.DeletePrefix(ctx, prefix)
		} else {
			err = a.flushMemory(ctx)
		}
		errs = append(errs, err)
	}
	a.opts.Metrics.Add(EventInvalidation, TierNone, int64(n))
	if a.opts.Bus != nil {
		errs = append(errs, a.opts.Bus.Publish(ctx, Invalidation{Kind: InvalidatePrefix, Value: prefix}))
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("hoard: aside %q: delete prefix %q: %w", a.opts.Name, idPrefix, err)
	}
	return n, nil
}

// publishKeys tells the other instances, when there is a bus, that keys
// changed: they evict them from their memory tiers.
func (a *Aside[V]) publishKeys(ctx context.Context, keys ...string) error {
	if a.opts.Bus == nil || len(keys) == 0 {
		return nil
	}
	events := make([]Invalidation, len(keys))
	for i, k := range keys {
		events[i] = Invalidation{Kind: InvalidateKey, Value: k}
	}
	if err := a.opts.Bus.Publish(ctx, events...); err != nil {
		return fmt.Errorf("telling other instances failed (they see the change within MemoryTTL): %w", err)
	}
	return nil
}

// applyInvalidations evicts what other instances invalidated from the
// memory tier. A memory delete also poisons the loads in flight here: their
// write-back to memory fails its compare-and-set.
func (a *Aside[V]) applyInvalidations(events []Invalidation) {
	mem := a.opts.Memory
	if mem == nil {
		return
	}
	ctx := context.Background()
	for _, ev := range events {
		var err error
		switch ev.Kind {
		case InvalidateKey:
			err = mem.Delete(ctx, ev.Value)
		case InvalidatePrefix:
			if pd, ok := mem.(PrefixDeleter); ok {
				_, err = pd.DeletePrefix(ctx, ev.Value)
			} else {
				err = a.flushMemory(ctx)
			}
		case InvalidateAll:
			err = a.flushMemory(ctx)
		default:
			continue // tags and namespaces are checked on read
		}
		if err != nil {
			a.opts.Metrics.Add(EventBackendError, TierMemory, 1)
			continue
		}
		a.opts.Metrics.Add(EventInvalidation, TierMemory, 1)
	}
}

// flushMemory empties the memory tier.
func (a *Aside[V]) flushMemory(ctx context.Context) error {
	if cl, ok := a.opts.Memory.(Clearer); ok {
		return cl.Clear(ctx)
	}
	return fmt.Errorf("hoard: aside %q: the memory tier cannot be flushed (no Clear): it may serve stale values until MemoryTTL", a.opts.Name)
}

// Delete invalidates ids in both tiers: the shared tier first, then the
// memory tier, so a concurrent read cannot refill memory from the old
// shared value. Loads of these ids that began before Delete cannot write
// their values afterwards (compare-and-set). Only this instance's memory
// tier is reached; other instances learn of it through the invalidation
// bus, or their MemoryTTL.
func (a *Aside[V]) Delete(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ids))
	var errs []error
	for _, id := range ids {
		key, err := a.storageKey(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, key)
	}
	for _, c := range []Cache[V]{a.opts.Shared, a.opts.Memory} {
		if c != nil {
			if err := c.Delete(ctx, keys...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	a.opts.Metrics.Add(EventInvalidation, TierNone, int64(len(keys)))
	if err := a.publishKeys(ctx, keys...); err != nil {
		errs = append(errs, fmt.Errorf("deleted here, but %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hoard: aside %q: delete: %w", a.opts.Name, err)
	}
	return nil
}

// Metrics returns the cache's metrics.
func (a *Aside[V]) Metrics() *Metrics { return a.opts.Metrics }

// Key returns the storage key of id: with a Namespace, under the version
// this instance knows now, or "" when that cannot be read.
func (a *Aside[V]) Key(id string) string {
	k, _ := a.storageKey(context.Background(), id)
	return k
}

// storageKey is the key of id in the tiers: with a Namespace, the
// namespace's current version is a part of it.
func (a *Aside[V]) storageKey(ctx context.Context, id string) (string, error) {
	ns, err := a.namespaceText(ctx)
	if err != nil {
		return "", err
	}
	return a.keyIn(ns, id), nil
}

// keyIn is the key of id in namespace version ns ("" for none).
func (a *Aside[V]) keyIn(ns, id string) string {
	if ns == "" {
		return a.opts.Keys.Key(id)
	}
	return a.opts.Keys.Key(ns, id)
}

// namespaceText is the namespace's version as a key part, "" without a
// namespace.
func (a *Aside[V]) namespaceText(ctx context.Context) (string, error) {
	if a.opts.Namespace == "" {
		return "", nil
	}
	v, err := a.opts.Invalidator.namespaceVersion(ctx, a.opts.Namespace)
	if err != nil {
		return "", fmt.Errorf("hoard: aside %q: %w", a.opts.Name, err)
	}
	return v.text, nil
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
	ns, err := a.namespaceText(ctx)
	if err != nil {
		// Without the namespace's version there is no key: answer from
		// the source, uncached.
		a.opts.Metrics.Add(EventBackendError, TierRedis, 1)
		r := a.callLoader(ctx, id, loader, nil)
		return r.value, r.err
	}
	var now time.Time // read only when needed: a clock read is a good part of a hit
	if a.opts.Memory != nil {
		e, err := a.memoryGet(ctx, ns, id) // shared with the tier: read only
		if err == nil {
			// A tier never returns an entry past its KeepUntil, so an entry
			// kept only while fresh (no fail-safe window) is fresh.
			fresh := e.ExpiresAt.IsZero() || !e.StaleUntil.After(e.ExpiresAt)
			if !fresh || a.opts.EarlyRefresh {
				now = a.opts.Clock.Now()
				fresh = e.IsFresh(now)
			}
			if fresh && a.usable(ctx, e) {
				if a.opts.EarlyRefresh {
					a.maybeRefreshEarly(ctx, id, loader, e, now)
				}
				return a.answer(e, TierMemory)
			}
		} else if !errors.Is(err, ErrNotFound) {
			a.opts.Metrics.Add(EventBackendError, TierMemory, 1)
		}
	}
	if now.IsZero() {
		now = a.opts.Clock.Now()
	}
	key := a.keyIn(ns, id)
	if a.opts.Shared != nil {
		// The memory tier's token is taken before the shared tier is read,
		// so an invalidation in between keeps the value out of memory.
		mem := a.read(ctx, a.opts.Memory, TierMemory, key)
		if e, err := a.opts.Shared.Get(ctx, key); err == nil && e.IsFresh(now) && a.usable(ctx, &e) {
			a.writeBack(ctx, a.opts.Memory, &mem, key, a.forMemory(e, now))
			a.maybeRefreshEarly(ctx, id, loader, &e, now)
			return a.answer(&e, TierRedis)
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			a.opts.Metrics.Add(EventBackendError, TierRedis, 1)
		}
	}
	v, err, _ := a.flights.Do(ctx, key, func(ctx context.Context) (V, error) {
		return a.load(ctx, id, key, loader)
	})
	return v, err
}

// keyBuffers are reused buffers for the memory tier's key on the hit path.
var keyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// memoryGet reads id from the memory tier, building its key in a reused
// buffer when the tier can look keys up from bytes: a hit then allocates
// and copies nothing. The entry may be the tier's own: read it only.
func (a *Aside[V]) memoryGet(ctx context.Context, ns, id string) (*Entry[V], error) {
	bg := a.memoryBytes
	if bg == nil {
		e, err := a.opts.Memory.Get(ctx, a.keyIn(ns, id))
		return &e, err
	}
	buf := keyBuffers.Get().(*[]byte)
	if ns != "" {
		*buf = a.opts.Keys.AppendKey((*buf)[:0], ns, id)
	} else {
		*buf = a.opts.Keys.AppendKey((*buf)[:0], id)
	}
	e, err := bg.GetBytes(ctx, *buf)
	if cap(*buf) <= 1024 {
		keyBuffers.Put(buf)
	}
	return e, err
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

// tierRead is what the load's own read of a tier found.
type tierRead[V any] struct {
	entry  Entry[V]
	found  bool  // entry holds a (fresh or stale) entry
	token  Token // the key's token, when hasTok
	hasTok bool
}

// read reads key from c, taking its token when c can compare-and-set.
func (a *Aside[V]) read(ctx context.Context, c Cache[V], tier Tier, key string) tierRead[V] {
	var r tierRead[V]
	if c == nil {
		return r
	}
	var err error
	if cas, ok := c.(CompareAndSetter[V]); ok {
		r.entry, r.token, err = cas.GetWithToken(ctx, key)
		r.hasTok = err == nil || errors.Is(err, ErrNotFound)
	} else {
		r.entry, err = c.Get(ctx, key)
	}
	// An entry whose tags were invalidated is as good as absent: never
	// served, not even stale.
	r.found = err == nil && a.usable(ctx, &r.entry)
	if err != nil && !errors.Is(err, ErrNotFound) {
		a.opts.Metrics.Add(EventBackendError, tier, 1)
	}
	return r
}

// load runs inside the flight. It reads both tiers again (another flight
// may have filled them since Get looked: groupcache's double-check), taking
// their tokens before the loader starts. With a Locker it first takes the
// key's lock, or waits for the holder's value.
func (a *Aside[V]) load(ctx context.Context, id, key string, loader Loader[V]) (V, error) {
	if a.opts.Locker == nil {
		mem, shared := a.readBoth(ctx, key)
		if v, err, ok := a.freshIn(ctx, key, &mem, &shared); ok {
			return v, err
		}
		return a.loadAndStore(ctx, id, key, loader, &mem, &shared)
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
			a.opts.Metrics.Add(EventBackendError, TierRedis, 1)
		}
		// Read after taking the lock: a holder that wrote and released
		// just before is seen, and not loaded again.
		mem, shared := a.readBoth(ctx, key)
		if v, err, ok := a.freshIn(ctx, key, &mem, &shared); ok {
			if lock != nil {
				a.release(ctx, lock)
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
		if waited := time.Since(waitStart); waited >= a.opts.LockWait {
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

// readBoth reads both tiers with their tokens.
func (a *Aside[V]) readBoth(ctx context.Context, key string) (mem, shared tierRead[V]) {
	return a.read(ctx, a.opts.Memory, TierMemory, key), a.read(ctx, a.opts.Shared, TierRedis, key)
}

// freshIn answers from what the tiers hold when it is fresh, filling the
// memory tier from the shared one.
func (a *Aside[V]) freshIn(ctx context.Context, key string, mem, shared *tierRead[V]) (V, error, bool) {
	now := a.opts.Clock.Now()
	if mem.found && mem.entry.IsFresh(now) {
		v, err := a.answer(&mem.entry, TierMemory)
		return v, err, true
	}
	if shared.found && shared.entry.IsFresh(now) {
		a.writeBack(ctx, a.opts.Memory, mem, key, a.forMemory(shared.entry, now))
		v, err := a.answer(&shared.entry, TierRedis)
		return v, err, true
	}
	var zero V
	return zero, nil, false
}

// loadLocked loads while holding lock (nil when the locker failed), then
// releases it.
func (a *Aside[V]) loadLocked(ctx context.Context, id, key string, loader Loader[V], lock Lock, mem, shared *tierRead[V]) (V, error) {
	if lock == nil {
		return a.loadAndStore(ctx, id, key, loader, mem, shared)
	}
	stop := a.keepRefreshed(ctx, lock)
	v, err := a.loadAndStore(ctx, id, key, loader, mem, shared)
	stop()
	a.release(ctx, lock)
	return v, err
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
					a.opts.Metrics.Add(EventBackendError, TierRedis, 1)
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// release gives lock up. A lock that expired meanwhile is only counted:
// the write-back already went through compare-and-set.
func (a *Aside[V]) release(ctx context.Context, lock Lock) {
	if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
		a.opts.Metrics.Add(EventBackendError, TierRedis, 1)
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
	return a.loadAndStore(ctx, id, key, loader, mem, shared)
}

// loadAndStore calls the loader under LoadTimeout and writes the result
// back; on failure it serves a stale value within the fail-safe window.
// With SoftTimeout and a stale value at hand, a load still running after
// SoftTimeout goes on in the background while the stale value is served.
func (a *Aside[V]) loadAndStore(ctx context.Context, id, key string, loader Loader[V], mem, shared *tierRead[V]) (V, error) {
	a.opts.Metrics.Miss()
	if a.opts.SoftTimeout > 0 {
		if stale, ok := a.staleWithin(mem, shared, a.opts.Clock.Now()); ok && !stale.Negative {
			return a.loadWithSoftTimeout(ctx, id, key, loader, mem, shared, stale)
		}
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
}

// callLoader calls the loader under LoadTimeout, with a ctx that lets it set
// its result's TTL and see the previous entry, and counts the call.
func (a *Aside[V]) callLoader(ctx context.Context, id string, loader Loader[V], previous *Entry[V]) loadResult[V] {
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
	r := loadResult[V]{value: v, err: err, end: end, took: end.Sub(start), ttl: lc.ttl, previous: previous,
		tags: lc.tags, epoch: epoch, untaggable: len(lc.tags) > 0 && epochErr != nil}
	if errors.Is(err, ErrNotModified) && previous == nil {
		r.err = fmt.Errorf("hoard: the loader answered not modified, but nothing was cached: %w", err)
	}
	a.opts.Metrics.ObserveLoad(r.took, r.failed())
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
			a.opts.Metrics.Add(EventBackendError, TierRedis, 1)
			return r.value, nil
		}
		e := a.freshEntry(r.value, r.end, r.took, r.ttl)
		e.Tags, e.TagEpoch = r.tags, r.epoch
		a.store(ctx, key, mem, shared, e, r.end)
		return r.value, nil
	case r.notModified():
		// The source confirms the previous value: renew its freshness.
		e := a.freshEntry(r.previous.Value, r.end, r.took, r.ttl)
		e.Negative, e.Tags, e.TagEpoch = r.previous.Negative, r.previous.Tags, r.epoch
		if len(r.tags) > 0 {
			e.Tags = r.tags
		}
		a.store(ctx, key, mem, shared, e, r.end)
		if e.Negative {
			return zero, ErrNotFound
		}
		return e.Value, nil
	case errors.Is(r.err, ErrNotFound):
		if a.opts.NegativeTTL > 0 {
			e := Entry[V]{Negative: true, WrittenAt: r.end, LoadDuration: r.took, ExpiresAt: r.end.Add(a.jittered(a.opts.NegativeTTL))}
			a.store(ctx, key, mem, shared, e, r.end)
		}
		return zero, r.err
	}
	if stale, ok := a.staleWithin(mem, shared, r.end); ok {
		a.opts.Metrics.Add(EventStaleServe, TierNone, 1)
		// Serve the stale value as fresh for the throttle, so the failing
		// source is not asked again by every read.
		stale.ExpiresAt = r.end.Add(a.opts.FailSafeThrottle)
		a.store(ctx, key, mem, shared, stale, r.end)
		if stale.Negative {
			return zero, errors.Join(ErrServedStale, ErrNotFound, r.err)
		}
		return stale.Value, errors.Join(ErrServedStale, r.err)
	}
	return zero, fmt.Errorf("hoard: aside %q: load %q: %w", a.opts.Name, id, r.err)
}

// loadWithSoftTimeout runs the load in the background and waits for it up
// to SoftTimeout; past that it serves stale and lets the load finish and
// write back on its own. A key whose background load still runs is served
// stale at once, not loaded twice.
func (a *Aside[V]) loadWithSoftTimeout(ctx context.Context, id, key string, loader Loader[V], mem, shared *tierRead[V], stale Entry[V]) (V, error) {
	result := make(chan struct {
		v   V
		err error
	}, 1)
	started := a.background.start(key, func() {
		// The caller may leave at the soft timeout: the load keeps its
		// ctx's values, not its cancellation.
		bctx := context.WithoutCancel(ctx)
		v, err := a.finishLoad(bctx, id, key, mem, shared, a.callLoader(bctx, id, loader, &stale))
		result <- struct {
			v   V
			err error
		}{v, err}
	})
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
var errSoftTimeout = errors.New("hoard: load past its soft timeout goes on in the background")

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
	var best Entry[V]
	found := false
	for _, r := range []*tierRead[V]{mem, shared} {
		if r.found && r.entry.IsKept(now) && (!found || r.entry.WrittenAt.After(best.WrittenAt)) {
			best, found = r.entry, true
		}
	}
	return best, found
}

// store writes e back to both tiers, each only if its token still holds.
func (a *Aside[V]) store(ctx context.Context, key string, mem, shared *tierRead[V], e Entry[V], now time.Time) {
	a.writeBack(ctx, a.opts.Shared, shared, key, e)
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
	if c == nil {
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
		tier := TierRedis
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

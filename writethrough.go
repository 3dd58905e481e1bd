package hoard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// WriteMode says what a write-through does to the cache after the store
// has the new value.
type WriteMode uint8

// The write modes.
const (
	// WriteUpdate writes the new value into the cache's tiers, so the next
	// read is a hit. The default.
	WriteUpdate WriteMode = iota
	// WriteInvalidate deletes the key from the cache's tiers; the next read
	// loads the new value.
	WriteInvalidate
)

// Defaults of [WriteThroughOptions].
const (
	defaultInvalidateAttempts = 3
	defaultInvalidateBackoff  = 50 * time.Millisecond
)

// WriteThroughOptions configure a [WriteThrough].
type WriteThroughOptions[V any] struct {
	// Aside is the cache-aside whose tiers and keys the writes keep
	// coherent: its readers see every write-through. Required.
	Aside *Aside[V]

	// Store is the source of truth the writes go to first. Required.
	Store Store[V]

	// Versioner hands out the writes' versions. Default: the Store's own
	// when it is a [VersioningStore] (each write's version picked in its
	// own transaction, so a cache outage has no part in it); else a
	// [HybridVersioner] on the Aside's shared tier when it is a Counter,
	// which goes on from the clock while Redis is down; else one on this
	// process's clock alone. A write whose version came from the clock
	// because Redis failed invalidates the key instead of updating it (see
	// Put).
	Versioner Versioner

	// Mode is what a write does to the cache. Default: WriteUpdate.
	Mode WriteMode

	// InvalidateAttempts is how often a failed cache update is followed by
	// attempts to invalidate the key. Default: 3.
	InvalidateAttempts int

	// InvalidateBackoff is the wait before the first retry of an
	// invalidation; it doubles with each. Default: 50 * time.Millisecond.
	InvalidateBackoff time.Duration
}

// WriteThrough writes to the store first and then to the cache, so readers
// of the [Aside] never see a value the store does not hold. A write that
// loses a race (to another write, an invalidation, or a cache-aside load of
// the old row) leaves the key invalidated rather than stale.
type WriteThrough[V any] struct {
	opts WriteThroughOptions[V]
	// own is the Store when it picks the versions (no Versioner was
	// given), and floors the clock that gives it each write's floor.
	own    VersioningStore[V]
	floors *versionClock
}

// NewWriteThrough returns a write-through configured by options (copied;
// Aside and Store are required, so nil is refused).
func NewWriteThrough[V any](options *WriteThroughOptions[V]) (*WriteThrough[V], error) {
	if options == nil {
		return nil, fmt.Errorf("%w: write-through: nil options (Aside and Store are required)", ErrInvalidOption)
	}
	opts := *options // the caller's stay as they were
	switch {
	case opts.Aside == nil:
		return nil, fmt.Errorf("%w: write-through: no Aside", ErrInvalidOption)
	case opts.Store == nil:
		return nil, fmt.Errorf("%w: write-through %q: no Store", ErrInvalidOption, opts.Aside.opts.Name)
	case opts.Mode > WriteInvalidate:
		return nil, fmt.Errorf("%w: write-through %q: unknown Mode %d", ErrInvalidOption, opts.Aside.opts.Name, opts.Mode)
	case opts.InvalidateAttempts < 0 || opts.InvalidateBackoff < 0:
		return nil, fmt.Errorf("%w: write-through %q: negative InvalidateAttempts or InvalidateBackoff", ErrInvalidOption, opts.Aside.opts.Name)
	}
	w := &WriteThrough[V]{}
	if opts.Versioner == nil {
		if vs, ok := opts.Store.(VersioningStore[V]); ok {
			w.own, w.floors = vs, &versionClock{clock: opts.Aside.opts.Clock}
		} else {
			opts.Versioner = defaultVersioner(opts.Aside, opts.Aside.opts.Logger)
		}
	}
	if opts.InvalidateAttempts == 0 {
		opts.InvalidateAttempts = defaultInvalidateAttempts
	}
	if opts.InvalidateBackoff == 0 {
		opts.InvalidateBackoff = defaultInvalidateBackoff
	}
	w.opts = opts
	return w, nil
}

// defaultVersioner is a HybridVersioner on the aside's shared tier when it
// is a Counter, else on the clock alone, with the aside's clock and
// metrics. Its counters are under Key("%version") + ":" + id, which no
// entry key can equal (an entry key's part never holds a bare ':' or '%').
// Write-through and write-behind on one aside use the same counters, so
// while Redis answers their versions of an id are one sequence.
func defaultVersioner[V any](a *Aside[V], logger *slog.Logger) *HybridVersioner {
	ctr, _ := a.opts.Shared.(Counter)
	h, _ := NewHybridVersioner(&HybridVersionerOptions{ // valid: no negative durations
		Counter: ctr, Prefix: a.opts.Keys.Key("%version") + ":",
		Clock: a.opts.Clock, Metrics: a.opts.Metrics, Logger: logger,
	})
	return h
}

// Put saves v as the value of id in the store, then updates (or
// invalidates) the cache. If the store fails, the cache is untouched and
// the error wraps [ErrStoreFailed]. If the cache fails after the store
// succeeded, the key is invalidated, with retries, and the error wraps
// [ErrCacheFailed]. A cache outage never keeps the write from the store:
// the version needs no cache (see [WriteThroughOptions.Versioner]), and a
// key that cannot be named (a namespace whose version cannot be read) is
// invalidated after the store call, the error wrapping [ErrCacheFailed].
// A write whose version came from the clock because Redis failed
// invalidates the key rather than update it: such a version is ordered
// against other processes' only to within their clock skew, and an
// invalidation is right whichever write the store kept.
//
// The cached entry carries tags and those of AsideOptions.TagsOf, as a
// loaded one does: a later [Invalidator.InvalidateTags] of any of them
// reaches it. When they cannot be checked later (no Invalidator, or the
// tag clock unreadable) the key is invalidated instead of updated, and
// [EventUntaggable] counted.
func (w *WriteThrough[V]) Put(ctx context.Context, id string, v V, tags ...string) error {
	return w.write(ctx, id, &v, tags)
}

// Delete removes id from the store, then invalidates it in the cache; the
// errors are those of Put.
func (w *WriteThrough[V]) Delete(ctx context.Context, id string) error {
	return w.write(ctx, id, nil, nil)
}

// write is Put (v set) or Delete (v nil).
//
// The order is what keeps the cache coherent with the store when writes of
// one id race, here or in other processes. The cache tokens are taken
// first, then the version, then the store is written, then each tier is
// compare-and-set with its token. A write whose compare-and-set fails lost
// to a later cache change and invalidates the key instead. A write whose
// compare-and-set succeeds saw no cache change since its token; any write
// that had finished before the token was taken also took its version
// before, so this write's version is newer and the store holds this value.
// (A store that picks the versions takes them in the store call, after the
// token, and orders them as it applies the writes: the same holds. A
// version from the clock after a counter failure may not be newer, which is
// why such a write invalidates.)
func (w *WriteThrough[V]) write(ctx context.Context, id string, v *V, tags []string) error {
	a := w.opts.Aside
	// A key that cannot be named now (the namespace's version unreadable)
	// does not hold the write back: the store is written, then the key
	// invalidated, which names it afresh.
	key, keyErr := a.storageKey(ctx, id)
	var mem, shared tierRead[V]
	if keyErr == nil && w.opts.Mode == WriteUpdate && v != nil {
		mem, shared = a.readBoth(ctx, key)
	}
	var epoch int64
	var epochErr error
	if v != nil && w.opts.Mode == WriteUpdate {
		// Read before the version is taken, so a tag invalidation from
		// then on reaches the entry: also one announcing a newer change
		// made elsewhere after this version, which the store keeps over
		// this write.
		tags = a.tagsOf(id, *v, tags)
		epoch, epochErr = a.tagEpoch(ctx, tags)
	}
	start, fromClock, err := w.store(ctx, id, v)
	if err != nil {
		return err
	}
	end := a.opts.Clock.Now()
	if keyErr != nil {
		return w.invalidate(ctx, id, keyErr)
	}
	if w.opts.Mode == WriteInvalidate || v == nil || fromClock {
		return w.invalidate(ctx, id, nil)
	}
	if !a.canTag(tags, epochErr) {
		a.opts.Metrics.Add(EventUntaggable, TierNone, 1)
		return w.invalidate(ctx, id, nil)
	}
	// A namespace bump during the store call moved id to a new key, where
	// a reader may have cached the old row meanwhile: invalidate that key
	// (Delete takes the key afresh) rather than update the old one.
	if same, err := a.keyStill(ctx, id, key); err != nil {
		return w.invalidate(ctx, id, err)
	} else if !same {
		// The old version's key too: an instance that has not heard of
		// the bump yet still reads it, and must not get the old row
		// after Put returns.
		if errs := a.deleteKeys(ctx, []string{key}); len(errs) > 0 {
			return w.invalidate(ctx, id, errors.Join(errs...))
		}
		return w.invalidate(ctx, id, nil)
	}
	e := a.freshEntry(*v, end, end.Sub(start), 0)
	if len(tags) > 0 {
		e.Tags, e.TagEpoch = tags, epoch
	}
	var cacheErr error
	if err := w.compareAndSet(ctx, a.opts.Shared, &shared, key, e); err != nil {
		cacheErr = err
	} else if err := w.compareAndSet(ctx, a.opts.Memory, &mem, key, a.forMemory(e, end)); err != nil {
		cacheErr = err
	}
	if cacheErr == nil {
		// A load of the old row running here must not be joined now.
		a.forgetLoads(key)
		// Redis holds the new value; other instances' memory tiers must
		// drop the old one. (A refill that read the old value from Redis
		// before this is poisoned by the memory delete's new token.)
		if err := a.publishKeys(ctx, key); err != nil {
			return fmt.Errorf("%w: write-through %q: %q stored and cached here, but %w", ErrCacheFailed, a.opts.Name, id, err)
		}
		return nil
	}
	if errors.Is(cacheErr, ErrConflict) {
		// Lost a race: invalidating is always safe, and the next read
		// loads whatever the store now holds.
		if err := w.invalidate(ctx, id, nil); err != nil {
			return err
		}
		return nil
	}
	return w.invalidate(ctx, id, cacheErr)
}

// store writes v (nil: a delete) of id to the store at a new version,
// picked by the store itself when it can, and returns when the store call
// started, and whether the version came from the clock because the
// versioner's shared counter failed. Any error wraps ErrStoreFailed.
func (w *WriteThrough[V]) store(ctx context.Context, id string, v *V) (time.Time, bool, error) {
	a := w.opts.Aside
	var err error
	var fromClock bool
	start := a.opts.Clock.Now()
	switch {
	case w.own != nil:
		// The floor keeps the store's versions up with the clock, so they
		// compare with those of writers that take theirs elsewhere. The
		// versions the store picks are not fed back into the clock: one
		// row's version far ahead must not drag every other id's.
		if v != nil {
			_, err = w.own.SaveNext(ctx, id, *v, uint64(w.floors.next()))
		} else {
			_, err = w.own.DeleteNext(ctx, id, uint64(w.floors.next()))
		}
	default:
		var version uint64
		version, fromClock, err = nextVersion(ctx, w.opts.Versioner, id)
		if err != nil {
			return start, false, fmt.Errorf("%w: write-through %q: version of %q: %w", ErrStoreFailed, a.opts.Name, id, err)
		}
		start = a.opts.Clock.Now()
		if v != nil {
			err = w.opts.Store.Save(ctx, id, *v, version)
		} else {
			err = w.opts.Store.Delete(ctx, id, version)
		}
	}
	if err != nil {
		return start, false, fmt.Errorf("%w: write-through %q: %q: %w", ErrStoreFailed, a.opts.Name, id, err)
	}
	return start, fromClock, nil
}

// nextVersion asks vr for a version of id, and says whether it came from
// the clock because vr's shared counter failed (only a HybridVersioner
// says so).
func nextVersion(ctx context.Context, vr Versioner, id string) (uint64, bool, error) {
	if h, ok := vr.(*HybridVersioner); ok {
		return h.nextVersion(ctx, id)
	}
	v, err := vr.NextVersion(ctx, id)
	return v, false, err
}

// compareAndSet writes e to c if its token from r still holds; a tier that
// could not give a token is refused the write (a conflict).
func (w *WriteThrough[V]) compareAndSet(ctx context.Context, c Cache[V], r *tierRead[V], key string, e Entry[V]) error {
	if c == nil {
		return nil
	}
	cas, ok := c.(CompareAndSetter[V])
	if !ok {
		return c.Set(ctx, key, e)
	}
	if !r.hasTok {
		return fmt.Errorf("%w: no token for %q", ErrConflict, key)
	}
	return cas.CompareAndSet(ctx, key, r.token, e)
}

// invalidate deletes id from the cache, retrying with backoff. cause is the
// failed cache update that made it necessary, nil for a plain
// invalidation. Any error returned wraps ErrCacheFailed.
func (w *WriteThrough[V]) invalidate(ctx context.Context, id string, cause error) error {
	a := w.opts.Aside
	backoff := w.opts.InvalidateBackoff
	var err error
	for attempt := range w.opts.InvalidateAttempts {
		if attempt > 0 {
			if sleepErr := sleepCtx(ctx, backoff); sleepErr != nil {
				err = errors.Join(err, sleepErr)
				break
			}
			backoff *= 2
		}
		if err = a.Delete(ctx, id); err == nil || errors.Is(err, ErrDeferred) {
			break
		}
	}
	switch {
	case errors.Is(err, ErrDeferred):
		return fmt.Errorf("%w: write-through %q: %q stored; the cache's invalidation is deferred until the shared tier is back: %w",
			ErrCacheFailed, a.opts.Name, id, errors.Join(cause, err))
	case err != nil && cause != nil:
		return fmt.Errorf("%w: write-through %q: %q stored; updating the cache failed (%w) and so did invalidating it: the cache may serve the old value until its TTL: %w",
			ErrCacheFailed, a.opts.Name, id, cause, err)
	case err != nil:
		return fmt.Errorf("%w: write-through %q: %q stored; invalidating the cache failed: the cache may serve the old value until its TTL: %w",
			ErrCacheFailed, a.opts.Name, id, err)
	case cause != nil:
		return fmt.Errorf("%w: write-through %q: %q stored; updating the cache failed, so the key was invalidated: %w",
			ErrCacheFailed, a.opts.Name, id, cause)
	}
	return nil
}

// Package memory is the in-process [hoard.Cache]: a bounded cache on
// github.com/maypok86/otter/v2 (W-TinyLFU eviction, per-entry expiry, a byte
// bound through a weigher) that holds typed values, so a hit costs no
// decoding and no allocation.
package memory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard"
)

// Cache is an in-process [hoard.Cache] of values of type V. It implements
// every optional ability: [hoard.ManyGetter], [hoard.ManySetter],
// [hoard.PrefixDeleter], [hoard.Clearer], [hoard.Counter],
// [hoard.FloorCounter] and [hoard.CompareAndSetter]. Its methods never block on I/O and ignore ctx.
//
// A Cache runs otter's clean-up goroutine; [Cache.Close] stops it.
type Cache[V any] struct {
	entries  *otter.Cache[string, *hoard.Entry[V]]
	counters *otter.Cache[string, *counter]
	keys     keySpace // how entries' keys are stored
	gens     *generations
	tags     tagClock
	clock    hoard.Clock
	// otterClock is clock as otter reads it; Close stops its ticker.
	otterClock otter.Clock
	weigher    func(string, V) int
	// keyedWeigher is set when weigher is the Options' own, which is told
	// the key (the default one is not).
	keyedWeigher bool
	maxValue     int
	// minWeight is what every entry is charged at least, so that a byte
	// bound also bounds the entry count (see Options.MaxEntries).
	minWeight int
}

var (
	_ hoard.Cache[int]                = (*Cache[int])(nil)
	_ hoard.ManyGetter[int]           = (*Cache[int])(nil)
	_ hoard.ManySetter[int]           = (*Cache[int])(nil)
	_ hoard.CompareAndSetter[int]     = (*Cache[int])(nil)
	_ hoard.ManyTokenGetter[int]      = (*Cache[int])(nil)
	_ hoard.ManyCompareAndSetter[int] = (*Cache[int])(nil)
	_ hoard.PrefixDeleter             = (*Cache[int])(nil)
	_ hoard.Clearer                   = (*Cache[int])(nil)
	_ hoard.Counter                   = (*Cache[int])(nil)
	_ hoard.FloorCounter              = (*Cache[int])(nil)
)

// New returns a memory cache configured by opts; nil opts give the defaults
// documented on [Options]. Bad options give an error wrapping
// hoard.ErrInvalidOption.
func New[V any](opts *Options[V]) (*Cache[V], error) {
	if opts == nil {
		opts = &Options[V]{}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	c := &Cache[V]{
		gens:         newGenerations(),
		tags:         tagClock{ttl: o.TagStampTTL},
		clock:        o.Clock,
		otterClock:   otterClock(o.Clock, o.ExpiryResolution),
		weigher:      o.Weigher,
		keyedWeigher: opts.Weigher != nil,
		maxValue:     o.MaxValueBytes,
	}
	oo := &otter.Options[string, *hoard.Entry[V]]{
		// otter's own "expire after write" calculator: otter then skips
		// all expiry work on reads, which a calculator type of our own
		// would cost every hit. Creates and updates take the entry's
		// KeepUntil; reads leave it alone, which is the same.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *hoard.Entry[V]]) time.Duration {
			return keepFor(&e)
		}),
		Clock: c.otterClock,
	}
	if m := o.Metrics; m != nil {
		oo.OnDeletion = func(e otter.DeletionEvent[string, *hoard.Entry[V]]) {
			if e.Cause == otter.CauseOverflow || e.Cause == otter.CauseExpiration {
				m.Add(hoard.EventEviction, hoard.TierMemory, 1)
			}
		}
	}
	if o.MaxBytes > 0 {
		if o.MaxEntries > 0 {
			c.minWeight = int((o.MaxBytes + uint64(o.MaxEntries) - 1) / uint64(o.MaxEntries))
		}
		oo.MaximumWeight = o.MaxBytes
		oo.Weigher = func(stored string, e *hoard.Entry[V]) uint32 { return c.storedWeight(stored, e) }
	} else {
		oo.MaximumSize = o.MaxEntries
	}
	entries, err := otter.New(oo)
	if err != nil {
		stopClock(c.otterClock)
		return nil, fmt.Errorf("%w: memory: %w", hoard.ErrInvalidOption, err)
	}
	counters, err := otter.New(&otter.Options[string, *counter]{MaximumSize: o.MaxCounters})
	if err != nil {
		entries.StopAllGoroutines()
		stopClock(c.otterClock)
		return nil, fmt.Errorf("%w: memory: %w", hoard.ErrInvalidOption, err)
	}
	c.entries, c.counters = entries, counters
	return c, nil
}

// Get returns the entry under key, or hoard.ErrNotFound. The entry shares
// its Value and Tags with the cache: treat them as read-only.
func (c *Cache[V]) Get(_ context.Context, key string) (hoard.Entry[V], error) {
	if o := c.keys.forReads(); o != nil {
		var buf [stackKeyLen]byte
		if e, ok := c.entries.GetIfPresent(o.lookupKey(key, &buf)); ok {
			return *e, nil
		}
	}
	return hoard.Entry[V]{}, hoard.ErrNotFound
}

// GetWithToken is Get that also returns the key's token for CompareAndSet.
// It is not an access for the eviction policy: it is the read a load makes
// before writing back (Aside has already counted the Get that missed), and
// counting it too would make every miss weigh twice in W-TinyLFU's
// frequency sketch, against keys that hit.
func (c *Cache[V]) GetWithToken(_ context.Context, key string) (hoard.Entry[V], hoard.Token, error) {
	// The token is read before the entry: a write between the two reads
	// then makes the token stale (a refused CompareAndSet), never the
	// entry older than its token.
	tok := c.gens.token(key)
	if o := c.keys.forReads(); o != nil {
		var buf [stackKeyLen]byte
		if e, ok := c.entries.GetEntryQuietly(o.lookupKey(key, &buf)); ok {
			return *e.Value, tok, nil
		}
	}
	return hoard.Entry[V]{}, tok, hoard.ErrNotFound
}

// GetMany returns the entries found under keys.
func (c *Cache[V]) GetMany(_ context.Context, keys []string) (map[string]hoard.Entry[V], error) {
	found := make(map[string]hoard.Entry[V], len(keys))
	o := c.keys.forReads()
	if o == nil {
		return found, nil
	}
	var buf [stackKeyLen]byte
	for _, k := range keys {
		if e, ok := c.entries.GetIfPresent(o.lookupKey(k, &buf)); ok {
			found[k] = *e
		}
	}
	return found, nil
}

// GetManyWithTokens calls each with every key's entry (the stored one:
// read it only) and token; like GetWithToken, it is not an access for the
// eviction policy.
func (c *Cache[V]) GetManyWithTokens(_ context.Context, keys []string, each func(int, *hoard.Entry[V], hoard.Token, bool)) error {
	o := c.keys.forReads()
	var buf [stackKeyLen]byte
	for i, k := range keys {
		tok := c.gens.token(k) // before the entry: see GetWithToken
		var e *hoard.Entry[V]
		if o != nil {
			if n, hit := c.entries.GetEntryQuietly(o.lookupKey(k, &buf)); hit {
				e = n.Value
			}
		}
		each(i, e, tok, true)
	}
	return nil
}

// Set stores e under key. See [hoard.Cache.Set].
func (c *Cache[V]) Set(_ context.Context, key string, e hoard.Entry[V]) error {
	if err := c.checkSize(key, &e); err != nil {
		return err
	}
	s := c.gens.lock(key)
	defer s.mu.Unlock()
	c.store(s, key, e)
	return nil
}

// SetMany stores every entry; a value over the maximum size fails the call
// before anything is stored.
func (c *Cache[V]) SetMany(_ context.Context, entries map[string]hoard.Entry[V]) error {
	for k, e := range entries {
		if err := c.checkSize(k, &e); err != nil {
			return err
		}
	}
	for k, e := range entries {
		s := c.gens.lock(k)
		c.store(s, k, e)
		s.mu.Unlock()
	}
	return nil
}

// CompareAndSet stores e under key if the key's token is still tok.
func (c *Cache[V]) CompareAndSet(_ context.Context, key string, tok hoard.Token, e hoard.Entry[V]) error {
	if err := c.checkSize(key, &e); err != nil {
		return err
	}
	s := c.gens.lock(key)
	defer s.mu.Unlock()
	if hoard.Token(s.gen.Load()) != tok {
		return fmt.Errorf("%w: %q", hoard.ErrConflict, key)
	}
	c.store(s, key, e)
	return nil
}

// CompareAndSetMany does CompareAndSet for every write, as one step: the
// stripes of all the keys are locked (in order) and every token checked
// before anything is stored. Done key by key, the store of one key would
// move the stripe it shares with a later key of the batch and refuse that
// one's write-back for nothing.
func (c *Cache[V]) CompareAndSetMany(_ context.Context, writes []hoard.TokenWrite[V]) error {
	var errs []error
	stripes := make([]int, 0, len(writes))
	ok := make([]bool, len(writes))
	for i := range writes {
		w := &writes[i]
		if err := c.checkSize(w.Key, &w.Entry); err != nil {
			errs = append(errs, err)
			continue
		}
		ok[i] = true
		stripes = append(stripes, c.gens.index(w.Key))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		c.gens.stripes[i].mu.Lock()
	}
	defer func() {
		for _, i := range stripes {
			c.gens.stripes[i].mu.Unlock()
		}
	}()
	for i := range writes {
		if ok[i] && hoard.Token(c.gens.stripe(writes[i].Key).gen.Load()) != writes[i].Token {
			errs = append(errs, fmt.Errorf("%w: %q", hoard.ErrConflict, writes[i].Key))
			ok[i] = false
		}
	}
	for i := range writes {
		if ok[i] {
			c.store(c.gens.stripe(writes[i].Key), writes[i].Key, writes[i].Entry)
		}
	}
	return errors.Join(errs...)
}

// store writes e under key with a new generation; s is key's stripe, locked.
//
// The clock is read again once otter holds the entry: if its KeepUntil
// passed in between (the clock moved during the write), otter gave it a
// lifetime of 1ns from a time at or past KeepUntil (see keepFor), and a
// clock that then stands still would serve it. It is dropped instead.
func (c *Cache[V]) store(s *stripe, key string, e hoard.Entry[V]) {
	e.Generation = s.gen.Add(1)
	sk := c.keys.forWrites().stored(key)
	now := c.clock.Now()
	if !e.IsKept(now) {
		c.entries.Invalidate(sk)
		return
	}
	if len(e.Tags) > 0 {
		c.tags.noteLife(e.KeepUntil(), now)
	}
	c.entries.Set(sk, &e)
	if !e.ExpiresAt.IsZero() && !e.IsKept(c.clock.Now()) {
		c.entries.Invalidate(sk)
	}
}

// Delete removes keys and invalidates their tokens.
func (c *Cache[V]) Delete(_ context.Context, keys ...string) error {
	o := c.keys.forReads() // nil: nothing stored, nothing to drop
	var buf [stackKeyLen]byte
	for _, k := range keys {
		s := c.gens.lock(k)
		s.gen.Add(1)
		if o != nil {
			c.entries.Invalidate(o.lookupKey(k, &buf))
		}
		s.mu.Unlock()
	}
	return nil
}

// DeletePrefix deletes every key starting with prefix, in O(n) of the
// entries held. It invalidates every token taken before it, for any key: a
// load of a key that was absent could otherwise store it after the call.
func (c *Cache[V]) DeletePrefix(_ context.Context, prefix string) (int, error) {
	c.gens.lockAll()
	defer c.gens.unlockAll()
	o := c.keys.forReads()
	if o == nil {
		return 0, nil
	}
	n := 0
	for k := range c.entries.Keys() {
		if o.fullHasPrefix(k, prefix) {
			if _, ok := c.entries.Invalidate(k); ok {
				n++
			}
		}
	}
	return n, nil
}

// Clear drops every entry (counters stay) and invalidates every token.
func (c *Cache[V]) Clear(context.Context) error {
	c.gens.lockAll()
	defer c.gens.unlockAll()
	c.entries.InvalidateAll()
	return nil
}

// Len returns the number of entries held, counting some that have expired
// but not yet been cleaned up.
func (c *Cache[V]) Len() int { return c.entries.EstimatedSize() }

// WeightedSize returns the sum of the weights of the entries held, when the
// cache is bounded by MaxBytes; 0 otherwise.
func (c *Cache[V]) WeightedSize() uint64 {
	if !c.entries.IsWeighted() {
		return 0
	}
	return c.entries.WeightedSize()
}

// CleanUp applies the evictions and expirations otter has pending. They
// happen by themselves soon after the writes that cause them; call CleanUp
// to read Len and WeightedSize at rest.
func (c *Cache[V]) CleanUp() { c.entries.CleanUp() }

// Close stops the clean-up goroutine and the ticker that drives it. The
// cache stays usable; expired entries are then dropped when read or pushed
// out.
func (c *Cache[V]) Close() error {
	c.entries.StopAllGoroutines()
	c.counters.StopAllGoroutines()
	// After StopAllGoroutines: otter's goroutine has taken its ticks by
	// then, so no Tick comes after the stop.
	stopClock(c.otterClock)
	return nil
}

// keepFor is how long otter keeps e: until its KeepUntil, or for ever.
//
// otter reads a lifetime of 0 or less as "keep the deadline the entry has",
// which for a new entry is none: an entry whose KeepUntil passed between
// store's check and otter's read of the clock would be kept for ever. Such
// an entry gets 1ns instead, so it expires at once. The lifetime is
// keep.Sub, which saturates: keep.UnixNano would wrap around for a
// KeepUntil past 2262 (a fail-safe of math.MaxInt64) into a short or
// negative lifetime.
func keepFor[V any](e *otter.Entry[string, *hoard.Entry[V]]) time.Duration {
	keep := e.Value.KeepUntil()
	if keep.IsZero() {
		return math.MaxInt64
	}
	return max(keep.Sub(time.Unix(0, e.SnapshotAtNano)), time.Nanosecond)
}

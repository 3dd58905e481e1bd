package hoard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// BatchLoader loads the values of many ids in one call (one SQL query with
// IN, one RPC). An id missing from the returned map has no value: it is
// cached as "not found" for the negative TTL.
type BatchLoader[V any] interface {
	LoadMany(ctx context.Context, ids []string) (map[string]V, error)
}

// BatchLoaderFunc adapts a function to a [BatchLoader].
type BatchLoaderFunc[V any] func(ctx context.Context, ids []string) (map[string]V, error)

// LoadMany calls f(ctx, ids).
func (f BatchLoaderFunc[V]) LoadMany(ctx context.Context, ids []string) (map[string]V, error) {
	return f(ctx, ids)
}

// batchKey is one distinct id of a GetMany with what the tiers said of it.
type batchKey[V any] struct {
	id, key string
	mem     batchRead[V]
	shared  batchRead[V]
}

// batchRead is what a batch read of one tier found for a key it could not
// answer: its token and a stale entry, if any. Kept small, as a batch holds
// one per id.
type batchRead[V any] struct {
	stale  *Entry[V] // a kept but no longer fresh entry, nil when none
	token  Token
	hasTok bool
}

// asTierRead is r as the single-key paths see a read.
func (r *batchRead[V]) asTierRead() *tierRead[V] {
	t := &tierRead[V]{token: r.token, hasTok: r.hasTok}
	if r.stale != nil {
		t.entry, t.found = *r.stale, true
	}
	return t
}

// GetMany returns the values of ids: it asks the memory tier for all of
// them at once, the shared tier for the rest at once, and calls loader once
// with only the ids neither could answer. Ids without a value (cached or
// loaded "not found") are absent from the map.
//
// The loaded values are tagged as Get's are: with AsideOptions.TagsOf, and
// with what the batch loader gives through [SetTags] (every value of the
// batch) and [SetTagsFor] (one id's value or "not found").
//
// When the loader fails, ids with a stale value inside the fail-safe window
// get it, and err joins [ErrServedStale] with the loader's error; the other
// missing ids are absent and err says why. Write-backs use compare-and-set
// as Get's do. Unlike Get, concurrent GetMany calls are not deduplicated
// per key.
func (a *Aside[V]) GetMany(ctx context.Context, ids []string, loader BatchLoader[V]) (map[string]V, error) {
	out := make(map[string]V, len(ids))
	now := a.opts.Clock.Now()
	ns, err := a.namespaceText(ctx)
	if err != nil {
		// Without the namespace's version there are no keys: answer from
		// the source, uncached.
		a.opts.Metrics.Add(EventBackendError, TierShared, 1)
		return loader.LoadMany(ctx, ids)
	}
	all := make([]batchKey[V], 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			all = append(all, batchKey[V]{id: id, key: a.keyIn(ns, id)})
		}
	}
	pending := make([]*batchKey[V], len(all))
	for i := range all {
		pending[i] = &all[i]
	}
	// The memory tier's tokens are taken here, before the shared tier is
	// read, as in Get.
	pending = a.readBatch(ctx, a.opts.Memory, TierMemory, pending, now, out, func(b *batchKey[V]) *batchRead[V] { return &b.mem })
	pending = a.readBatch(ctx, a.opts.Shared, TierShared, pending, now, out, func(b *batchKey[V]) *batchRead[V] { return &b.shared })
	if len(pending) == 0 {
		return out, nil
	}
	a.opts.Metrics.Add(EventMiss, TierNone, int64(len(pending)))

	missing := make([]string, len(pending))
	for i, b := range pending {
		missing[i] = b.id
	}
	loadCtx, cancel := ctx, context.CancelFunc(func() {})
	if a.opts.LoadTimeout > 0 {
		loadCtx, cancel = context.WithTimeout(ctx, a.opts.LoadTimeout)
	}
	var epoch int64
	var epochErr error
	if a.opts.Invalidator != nil {
		// Read before the load, so an invalidation during it poisons it.
		epoch, epochErr = a.opts.Invalidator.epoch(loadCtx)
	}
	loadCtx, lc := withLoadControl[V](loadCtx, nil)
	start := a.opts.Clock.Now()
	loaded, err := loader.LoadMany(loadCtx, missing)
	cancel()
	end := a.opts.Clock.Now()
	took := end.Sub(start)
	// A load that failed once the caller had left says nothing of the
	// source: no fail-safe write-back, no load error (see loadResult).
	abandoned := err != nil && ctx.Err() != nil
	a.opts.Metrics.ObserveLoad(took, err != nil && !abandoned)

	var writes []batchWrite[V]
	if err == nil {
		for _, b := range pending {
			var e Entry[V]
			if v, ok := loaded[b.id]; ok {
				out[b.id] = v
				e = a.freshEntry(v, end, took, 0)
				e.Tags = a.tagsOf(b.id, v, lc.tagsOf(b.id))
			} else if a.opts.NegativeTTL > 0 {
				e = a.negativeEntry(end, took)
				e.Tags = lc.tagsOf(b.id)
			} else {
				continue
			}
			if !a.canTag(e.Tags, epochErr) {
				a.opts.Metrics.Add(EventUntaggable, TierNone, 1)
				continue
			}
			if len(e.Tags) > 0 {
				e.TagEpoch = epoch
			}
			writes = append(writes, batchWrite[V]{b: b, entry: e})
		}
		a.storeBatch(ctx, writes, end)
		return out, nil
	}
	servedStale := false
	for _, b := range pending {
		stale, fromShared, ok := a.staleSource(b.mem.asTierRead(), b.shared.asTierRead(), end)
		if !ok {
			continue
		}
		servedStale = true
		a.opts.Metrics.Add(EventStaleServe, TierNone, 1)
		if !abandoned {
			// Not to the shared tier when memory's: see storeStale.
			writes = append(writes, batchWrite[V]{b: b, entry: a.throttled(stale, end), memoryOnly: !fromShared})
		}
		if !stale.Negative {
			out[b.id] = stale.Value
		}
	}
	a.storeBatch(ctx, writes, end)
	if servedStale {
		err = errors.Join(ErrServedStale, err)
	}
	return out, fmt.Errorf("hoard: aside %q: batch load of %d ids: %w", a.opts.Name, len(missing), err)
}

// readBatch reads pending from tier c at once, puts the fresh answers in
// out, records what it saw in each key's slot, and returns the keys still
// unanswered.
func (a *Aside[V]) readBatch(ctx context.Context, c Cache[V], tier Tier, pending []*batchKey[V], now time.Time,
	out map[string]V, slot func(*batchKey[V]) *batchRead[V]) []*batchKey[V] {
	if c == nil || len(pending) == 0 {
		return pending
	}
	keys := make([]string, len(pending))
	for i, b := range pending {
		keys[i] = b.key
	}
	var found map[string]Entry[V]
	var err error
	if mt, ok := c.(ManyTokenGetter[V]); ok {
		var tokens []Token
		var tokenOK []bool
		found, tokens, tokenOK, err = mt.GetManyWithTokens(ctx, keys)
		for i, b := range pending {
			if i < len(tokens) {
				slot(b).token, slot(b).hasTok = tokens[i], tokenOK[i]
			}
		}
	} else {
		found, err = a.getEach(ctx, c, keys)
	}
	if err != nil {
		a.opts.Metrics.Add(EventBackendError, tier, 1)
	}
	rest := pending[:0]
	var fill []batchWrite[V]
	for _, b := range pending {
		e, ok := found[b.key]
		ok = ok && a.usable(ctx, &e) // invalidated by a tag: never served
		if !ok || !e.IsFresh(now) {
			if ok && e.IsKept(now) {
				slot(b).stale = &e
			}
			rest = append(rest, b)
			continue
		}
		if e.Negative {
			a.opts.Metrics.Add(EventNegativeHit, tier, 1)
		} else {
			a.opts.Metrics.Hit(tier)
			out[b.id] = e.Value
		}
		if tier == TierShared {
			fill = append(fill, batchWrite[V]{b: b, entry: e})
		}
	}
	if len(fill) > 0 {
		a.writeBatch(ctx, a.opts.Memory, TierMemory, fill, now, func(b *batchKey[V]) *batchRead[V] { return &b.mem })
	}
	return rest
}

// getEach is GetMany for a tier without it.
func (a *Aside[V]) getEach(ctx context.Context, c Cache[V], keys []string) (map[string]Entry[V], error) {
	if mg, ok := c.(ManyGetter[V]); ok {
		return mg.GetMany(ctx, keys)
	}
	found := make(map[string]Entry[V], len(keys))
	var errs []error
	for _, k := range keys {
		e, err := c.Get(ctx, k)
		switch {
		case err == nil:
			found[k] = e
		case !errors.Is(err, ErrNotFound):
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}

// batchWrite is an entry to write back for one key of a batch.
type batchWrite[V any] struct {
	b     *batchKey[V]
	entry Entry[V]
	// memoryOnly keeps the write out of the shared tier (see storeStale).
	memoryOnly bool
}

// storeBatch writes entries back to both tiers, as store does for one.
func (a *Aside[V]) storeBatch(ctx context.Context, writes []batchWrite[V], now time.Time) {
	if len(writes) == 0 {
		return
	}
	a.writeBatch(ctx, a.opts.Shared, TierShared, writes, now, func(b *batchKey[V]) *batchRead[V] { return &b.shared })
	a.writeBatch(ctx, a.opts.Memory, TierMemory, writes, now, func(b *batchKey[V]) *batchRead[V] { return &b.mem })
}

// writeBatch writes entries to tier c, with one CompareAndSetMany when c has
// it, else key by key as writeBack does.
func (a *Aside[V]) writeBatch(ctx context.Context, c Cache[V], tier Tier, writes []batchWrite[V], now time.Time,
	slot func(*batchKey[V]) *batchRead[V]) {
	if c == nil {
		return
	}
	prepare := func(e Entry[V]) Entry[V] {
		if tier == TierMemory {
			return a.forMemory(e, now)
		}
		return e
	}
	if tier != TierMemory {
		writes = slices.DeleteFunc(slices.Clone(writes), func(w batchWrite[V]) bool { return w.memoryOnly })
	}
	if many, ok := c.(ManyCompareAndSetter[V]); ok {
		tw := make([]TokenWrite[V], 0, len(writes))
		for _, w := range writes {
			if r := slot(w.b); r.hasTok {
				tw = append(tw, TokenWrite[V]{Key: w.b.key, Token: r.token, Entry: prepare(w.entry)})
			}
		}
		if err := many.CompareAndSetMany(ctx, tw); err != nil && !onlyConflicts(err) {
			a.opts.Metrics.Add(EventBackendError, tier, 1)
		}
		return
	}
	for _, w := range writes {
		a.writeBack(ctx, c, slot(w.b).asTierRead(), w.b.key, prepare(w.entry))
	}
}

// onlyConflicts reports whether every error err joins is an ErrConflict.
func onlyConflicts(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !onlyConflicts(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, ErrConflict)
}

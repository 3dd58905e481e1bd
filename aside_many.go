package hoard

import (
	"context"
	"errors"
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

// batchAnswers are the answers of a GetMany so far.
type batchAnswers[V any] struct {
	out map[string]V
	// negative holds the ids answered "not found", nil until one is.
	negative map[string]struct{}
}

// answered reports whether id has its answer already (a duplicate id).
func (b *batchAnswers[V]) answered(id string) bool {
	if _, ok := b.out[id]; ok {
		return true
	}
	_, ok := b.negative[id]
	return ok
}

// answer records a fresh entry as id's answer and reports whether id had
// none yet: a duplicate id is answered and counted once.
func (b *batchAnswers[V]) answer(id string, e *Entry[V]) bool {
	if !e.Negative {
		n := len(b.out)
		b.out[id] = e.Value
		return len(b.out) > n
	}
	if _, ok := b.negative[id]; ok {
		return false
	}
	if b.negative == nil {
		b.negative = make(map[string]struct{})
	}
	b.negative[id] = struct{}{}
	return true
}

// GetMany returns the values of ids: it asks the memory tier for all of
// them, the shared tier for the rest at once, and calls loader once with
// only the ids neither could answer. Ids without a value (cached or
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
	ns, spent, err := a.namespaceRead(ctx)
	if err != nil {
		// Without the namespace's version there are no keys: answer from
		// the source, uncached.
		a.opts.Metrics.Add(EventBackendError, TierShared, 1)
		return loader.LoadMany(ctx, ids)
	}
	ans := &batchAnswers[V]{out: make(map[string]V, len(ids))}
	rest := ids
	if a.memoryByID != nil {
		if rest = a.memoryHits(ctx, ns, ids, ans); len(rest) == 0 {
			return ans.out, nil
		}
	}
	if a.guarded {
		// As in Get: once a shared-tier call of this GetMany ran past the
		// hard timeout (the namespace's read included), the rest of it
		// skips the tier, leaving the loader its time.
		ctx = withSharedSkip(ctx, spent)
		out, err := a.getManyRest(ctx, ns, rest, ans, loader)
		if err != nil {
			err = sharedSkippedIn(ctx, err, a.opts.HardShared)
		}
		return out, err
	}
	return a.getManyRest(ctx, ns, rest, ans, loader)
}

// memoryHits answers, into ans, the ids the memory tier holds fresh and
// valid, and returns the others (nil when there are none). It is the path
// of a batch that memory answers whole, and costs what Get's hits do: each
// key written by the tier on its stack (see IDKeyGetter), the entries read
// in place, and the hits counted once for the batch. Like Get's, these reads are
// accesses for the memory tier's eviction policy.
func (a *Aside[V]) memoryHits(ctx context.Context, ns string, ids []string, ans *batchAnswers[V]) []string {
	var now time.Time // read only when an entry needs it, as in Get
	var rest []string
	failed := false
	for _, id := range ids {
		e, err := a.memoryByID.GetID(ctx, IDKey{Keys: &a.opts.Keys, Version: ns, ID: id})
		if err != nil {
			failed = failed || !errors.Is(err, ErrNotFound)
			rest = append(rest, id)
			continue
		}
		// See servesAtOnce: an entry kept only while fresh is fresh.
		fresh := e.ExpiresAt.IsZero() || !e.StaleUntil.After(e.ExpiresAt)
		if !fresh {
			if now.IsZero() {
				now = a.opts.Clock.Now()
			}
			fresh = e.IsFresh(now)
		}
		if !fresh || !a.usable(ctx, e) {
			rest = append(rest, id)
			continue
		}
		ans.answer(id, e)
	}
	if failed {
		a.opts.Metrics.Add(EventBackendError, TierMemory, 1)
	}
	a.opts.Metrics.hitsOn(TierMemory, len(ans.out), len(ans.negative))
	return rest
}

// getManyRest is GetMany for the ids the memory tier's hits left: read
// with tokens from both tiers at once, then loaded.
func (a *Aside[V]) getManyRest(ctx context.Context, ns string, ids []string, ans *batchAnswers[V], loader BatchLoader[V]) (map[string]V, error) {
	now := a.opts.Clock.Now()
	all := a.batchKeys(ns, ids)
	pending := make([]*batchKey[V], len(all))
	for i := range all {
		pending[i] = &all[i]
	}
	// The memory tier's tokens are taken here, before the shared tier is
	// read, as in Get.
	pending = a.readBatch(ctx, a.opts.Memory, TierMemory, pending, now, ans, func(b *batchKey[V]) *batchRead[V] { return &b.mem })
	pending = a.readBatch(ctx, a.opts.Shared, TierShared, pending, now, ans, func(b *batchKey[V]) *batchRead[V] { return &b.shared })
	// Duplicate ids, and ids that an earlier pass answered, go no further.
	if len(pending) > 1 || len(pending) == 1 && ans.answered(pending[0].id) {
		seen := make(map[string]struct{}, len(pending))
		pending = slices.DeleteFunc(pending, func(b *batchKey[V]) bool {
			if _, dup := seen[b.id]; dup || ans.answered(b.id) {
				return true
			}
			seen[b.id] = struct{}{}
			return false
		})
	}
	if len(pending) == 0 {
		return ans.out, nil
	}
	return a.loadBatch(ctx, pending, ans.out, loader)
}

// batchKeys returns the ids with their keys, built in one buffer: a batch
// allocates its keys once, not once per id.
func (a *Aside[V]) batchKeys(ns string, ids []string) []batchKey[V] {
	all := make([]batchKey[V], len(ids))
	size := 0
	for _, id := range ids {
		size += len(a.opts.Keys.Prefix()) + len(ns) + len(id) + 2
	}
	buf := make([]byte, 0, size+size/8)
	for i, id := range ids {
		start := len(buf)
		buf = a.opts.Keys.appendIDKey(buf, ns, id)
		// Never written again: appends go past it, or to a new array.
		all[i] = batchKey[V]{id: id, key: ownedString(buf[start:len(buf):len(buf)])}
	}
	return all
}

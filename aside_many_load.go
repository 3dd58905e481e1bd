package hoard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// loadBatch loads the ids of pending, none answered by a tier, with one
// call of loader, and writes the values back; when the loader fails, it
// serves what the fail-safe allows.
func (a *Aside[V]) loadBatch(ctx context.Context, pending []*batchKey[V], out map[string]V, loader BatchLoader[V]) (map[string]V, error) {
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
				// The key is cloned: the tier may keep it, and it aliases the
				// batch's key buffer (see batchKeys).
				tw = append(tw, TokenWrite[V]{Key: strings.Clone(w.b.key), Token: r.token, Entry: prepare(w.entry)})
			}
		}
		if err := many.CompareAndSetMany(ctx, tw); err != nil && !onlyConflicts(err) {
			a.opts.Metrics.Add(EventBackendError, tier, 1)
		}
		return
	}
	for _, w := range writes {
		a.writeBack(ctx, c, slot(w.b).asTierRead(), strings.Clone(w.b.key), prepare(w.entry))
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

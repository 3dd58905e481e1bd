package hoard

import (
	"context"
	"errors"
	"slices"
	"time"
)

// batchKey is one id of a GetMany's slow path with what the tiers said
// of it.
type batchKey[V any] struct {
	id, key string // key aliases the batch's key buffer: clone it to keep it
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

// readBatch reads pending from tier c at once, answers the fresh ones
// into ans (counting each id once), records what it saw of the others
// (token, stale entry) in their slots, and returns those others. The
// shared tier's fresh answers are written back to the memory tier.
func (a *Aside[V]) readBatch(ctx context.Context, c Cache[V], tier Tier, pending []*batchKey[V], now time.Time,
	ans *batchAnswers[V], slot func(*batchKey[V]) *batchRead[V]) []*batchKey[V] {
	if c == nil || len(pending) == 0 {
		return pending
	}
	keys := make([]string, len(pending))
	for i, b := range pending {
		keys[i] = b.key
	}
	var fill []batchWrite[V]
	if tier == TierShared && a.opts.Memory != nil {
		fill = make([]batchWrite[V], 0, len(pending))
	}
	// The counts visit keeps, in one variable: the closure escapes, and
	// each variable it changes is an allocation of its own.
	var n struct{ hits, negative, answered int }
	visit := func(i int, e *Entry[V], tok Token, tokOK bool) {
		b := pending[i]
		r := slot(b)
		r.token, r.hasTok = tok, tokOK
		// An entry invalidated by a tag is never served, not even stale.
		if e == nil || !a.usable(ctx, e) {
			return
		}
		if !e.IsFresh(now) {
			if e.IsKept(now) {
				stale := *e
				r.stale = &stale
			}
			return
		}
		pending[i] = nil
		n.answered++
		if !ans.answer(b.id, e) {
			return // a duplicate id
		}
		if e.Negative {
			n.negative++
		} else {
			n.hits++
		}
		if fill != nil {
			fill = append(fill, batchWrite[V]{b: b, entry: *e})
		}
	}
	var err error
	if mt, ok := c.(ManyTokenGetter[V]); ok {
		err = mt.GetManyWithTokens(ctx, keys, visit)
	} else {
		var found map[string]Entry[V]
		found, err = a.getEach(ctx, c, keys)
		for i, k := range keys {
			if e, ok := found[k]; ok {
				visit(i, &e, 0, false)
			} else {
				visit(i, nil, 0, false)
			}
		}
	}
	if err != nil {
		a.opts.Metrics.Add(EventBackendError, tier, 1)
	}
	if n.hits > 0 {
		a.opts.Metrics.Add(EventHit, tier, int64(n.hits))
	}
	if n.negative > 0 {
		a.opts.Metrics.Add(EventNegativeHit, tier, int64(n.negative))
	}
	if len(fill) > 0 {
		a.writeBatch(ctx, a.opts.Memory, TierMemory, fill, now, func(b *batchKey[V]) *batchRead[V] { return &b.mem })
	}
	switch n.answered {
	case 0:
		return pending
	case len(pending):
		return pending[:0] // the usual hit: nothing to compact
	}
	return slices.DeleteFunc(pending, func(b *batchKey[V]) bool { return b == nil })
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

package otel

import (
	"context"
	"errors"

	"github.com/hoard-cache/hoard"
)

// The optional abilities of a traced cache, one part each. A part points
// at the wrapper's core, whose field for the ability is set when a part
// is there: TraceCache embeds a part only when the inner cache has the
// ability.
type (
	casPart[V any]        struct{ c *tracedCache[V] } // hoard.CompareAndSetter
	getManyPart[V any]    struct{ c *tracedCache[V] } // hoard.ManyGetter
	setManyPart[V any]    struct{ c *tracedCache[V] } // hoard.ManySetter
	manyTokensPart[V any] struct{ c *tracedCache[V] } // hoard.ManyTokenGetter
	casManyPart[V any]    struct{ c *tracedCache[V] } // hoard.ManyCompareAndSetter
	idPart[V any]         struct{ c *tracedCache[V] } // hoard.IDKeyGetter
	prefixPart[V any]     struct{ c *tracedCache[V] } // hoard.PrefixDeleter
	clearPart[V any]      struct{ c *tracedCache[V] } // hoard.Clearer
	counterPart[V any]    struct{ c *tracedCache[V] } // hoard.Counter
	floorPart[V any]      struct{ c *tracedCache[V] } // hoard.FloorCounter
	tagClockPart[V any]   struct{ c *tracedCache[V] } // hoard.TagClock
)

// GetWithToken reads key and its token from the traced cache.
func (p casPart[V]) GetWithToken(ctx context.Context, key string) (hoard.Entry[V], hoard.Token, error) {
	ctx, span := p.c.startKey(ctx, opGetWithToken, key)
	e, tok, err := p.c.cas.GetWithToken(ctx, key)
	endRead(span, err)
	return e, tok, err
}

// CompareAndSet writes key in the traced cache if tok is still its token.
func (p casPart[V]) CompareAndSet(ctx context.Context, key string, tok hoard.Token, e hoard.Entry[V]) error {
	ctx, span := p.c.startKey(ctx, opCompareAndSet, key)
	err := p.c.cas.CompareAndSet(ctx, key, tok, e)
	endCAS(span, err)
	return err
}

// GetMany reads keys from the traced cache.
func (p getManyPart[V]) GetMany(ctx context.Context, keys []string) (map[string]hoard.Entry[V], error) {
	ctx, span := p.c.startMany(ctx, opGetMany, len(keys))
	found, err := p.c.getMany.GetMany(ctx, keys)
	if span.IsRecording() {
		span.SetAttributes(AttrHits.Int(len(found)))
	}
	endWith(span, err)
	return found, err
}

// SetMany writes entries in the traced cache.
func (p setManyPart[V]) SetMany(ctx context.Context, entries map[string]hoard.Entry[V]) error {
	ctx, span := p.c.startMany(ctx, opSetMany, len(entries))
	err := p.c.setMany.SetMany(ctx, entries)
	endWith(span, err)
	return err
}

// GetManyWithTokens reads keys and their tokens from the traced cache.
func (p manyTokensPart[V]) GetManyWithTokens(ctx context.Context, keys []string, each func(i int, e *hoard.Entry[V], tok hoard.Token, tokOK bool)) error {
	ctx, span := p.c.startMany(ctx, opGetManyWithTokens, len(keys))
	hits := 0
	err := p.c.manyTokens.GetManyWithTokens(ctx, keys, func(i int, e *hoard.Entry[V], tok hoard.Token, tokOK bool) {
		if e != nil {
			hits++
		}
		each(i, e, tok, tokOK)
	})
	if span.IsRecording() {
		span.SetAttributes(AttrHits.Int(hits))
	}
	endWith(span, err)
	return err
}

// CompareAndSetMany compares and sets every write in the traced cache.
func (p casManyPart[V]) CompareAndSetMany(ctx context.Context, writes []hoard.TokenWrite[V]) error {
	ctx, span := p.c.startMany(ctx, opCompareAndSetMany, len(writes))
	err := p.c.casMany.CompareAndSetMany(ctx, writes)
	if onlyConflicts(err) {
		endCAS(span, err)
	} else {
		endWith(span, err)
	}
	return err
}

// onlyConflicts reports whether err is one conflict or joins only
// conflicts: writes that lost their race, which is an answer.
func onlyConflicts(err error) bool {
	if err == nil {
		return false
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !onlyConflicts(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, hoard.ErrConflict)
}

// GetID reads an Aside's key of an id from the traced cache. The key's
// string is written only for a recording span.
func (p idPart[V]) GetID(ctx context.Context, key hoard.IDKey) (*hoard.Entry[V], error) {
	c := p.c
	ctx, span := c.start(ctx, opGetID)
	if span.IsRecording() {
		c.t.setKey(span, key.String())
	}
	e, err := c.byID.GetID(ctx, key)
	endRead(span, err)
	return e, err
}

// DeletePrefix deletes every key with prefix from the traced cache.
func (p prefixPart[V]) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	ctx, span := p.c.startKey(ctx, opDeletePrefix, prefix)
	n, err := p.c.prefix.DeletePrefix(ctx, prefix)
	if span.IsRecording() {
		span.SetAttributes(AttrKeys.Int(n))
	}
	endWith(span, err)
	return n, err
}

// Clear drops every entry of the traced cache.
func (p clearPart[V]) Clear(ctx context.Context) error {
	ctx, span := p.c.start(ctx, opClear)
	err := p.c.clearer.Clear(ctx)
	endWith(span, err)
	return err
}

// IncrBy adds delta to the counter under key in the traced cache.
func (p counterPart[V]) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, span := p.c.startKey(ctx, opIncrBy, key)
	n, err := p.c.counter.IncrBy(ctx, key, delta)
	endWith(span, err)
	return n, err
}

// IncrAtLeast adds 1 to the counter under key in the traced cache, raising
// it to floor first when it is below.
func (p floorPart[V]) IncrAtLeast(ctx context.Context, key string, floor int64) (int64, error) {
	ctx, span := p.c.startKey(ctx, opIncrAtLeast, key)
	n, err := p.c.floor.IncrAtLeast(ctx, key, floor)
	endWith(span, err)
	return n, err
}

// Epoch reads the tag clock's epoch from the traced cache.
func (p tagClockPart[V]) Epoch(ctx context.Context) (int64, error) {
	ctx, span := p.c.start(ctx, opEpoch)
	n, err := p.c.tagClock.Epoch(ctx)
	endWith(span, err)
	return n, err
}

// InvalidateTags invalidates tags in the traced cache's tag clock.
func (p tagClockPart[V]) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	ctx, span := p.c.startMany(ctx, opInvalidateTags, len(tags))
	n, err := p.c.tagClock.InvalidateTags(ctx, tags...)
	endWith(span, err)
	return n, err
}

// TagEpochs reads the epochs of tags from the traced cache's tag clock.
func (p tagClockPart[V]) TagEpochs(ctx context.Context, tags []string) ([]int64, error) {
	ctx, span := p.c.startMany(ctx, opTagEpochs, len(tags))
	out, err := p.c.tagClock.TagEpochs(ctx, tags)
	endWith(span, err)
	return out, err
}

package otel

import (
	"context"
	"errors"
	"fmt"

	"github.com/hoard-cache/hoard"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TraceCache returns c with a span around each of its calls, named after
// the tier and the call ("hoard.shared.get", "hoard.shared.compare_and_set",
// ...) and carrying the cache's name, the tier, the key (as the Tracer's
// KeyMode says), and what the call found: hoard.hit for a one-key read,
// hoard.keys and hoard.hits for a batch, hoard.outcome "stored" or
// "conflict" for a compare-and-set. A miss and a conflict are answers, not
// errors; any other error marks the span failed.
//
// tier is the tier c serves as, [hoard.TierShared] or [hoard.TierMemory].
// Trace the shared tier, where a call is a round trip: a span on every
// memory hit costs more than the hit.
//
// The caching patterns find what a cache can do beyond [hoard.Cache] by
// type assertion, so the wrapper must have exactly c's optional abilities,
// or an Aside on it would lose features (stale-set protection without
// [hoard.CompareAndSetter], flushes without [hoard.Clearer]). TraceCache
// keeps them when they are any mix of [hoard.CompareAndSetter],
// [hoard.ManyGetter], [hoard.PrefixDeleter] and [hoard.Counter], or all of
// those both of hoard's backends have (those four, [hoard.ManySetter],
// [hoard.ManyTokenGetter], [hoard.ManyCompareAndSetter] and
// [hoard.TagClock]) with or without [hoard.Clearer],
// [hoard.IDKeyGetter] and [hoard.FloorCounter]. For any other mix it
// returns an error wrapping [hoard.ErrInvalidOption] that names c's
// abilities, rather than a cache that quietly lacks some. Each mix is a type of its own, so the list is
// kept short: a type per mix of all ten would add megabytes to a binary
// for each value type.
//
// A nil t returns c as it is.
func TraceCache[V any](t *Tracer, tier hoard.Tier, c hoard.Cache[V]) (hoard.Cache[V], error) {
	if c == nil {
		return nil, fmt.Errorf("%w: otel: TraceCache of a nil cache", hoard.ErrInvalidOption)
	}
	if t == nil {
		return c, nil
	}
	var names *[opCount]string
	switch tier {
	case hoard.TierShared:
		names = &sharedNames
	case hoard.TierMemory:
		names = &memoryNames
	default:
		return nil, fmt.Errorf("%w: otel: TraceCache: tier %q is neither memory nor shared", hoard.ErrInvalidOption, tier)
	}
	tc := &tracedCache[V]{inner: c, t: t, tier: AttrTier.String(tier.String()), names: names}
	tc.cas, _ = c.(hoard.CompareAndSetter[V])
	tc.getMany, _ = c.(hoard.ManyGetter[V])
	tc.setMany, _ = c.(hoard.ManySetter[V])
	tc.manyTokens, _ = c.(hoard.ManyTokenGetter[V])
	tc.casMany, _ = c.(hoard.ManyCompareAndSetter[V])
	tc.byID, _ = c.(hoard.IDKeyGetter[V])
	tc.prefix, _ = c.(hoard.PrefixDeleter)
	tc.clearer, _ = c.(hoard.Clearer)
	tc.counter, _ = c.(hoard.Counter)
	tc.floor, _ = c.(hoard.FloorCounter)
	tc.tagClock, _ = c.(hoard.TagClock)
	m := abilitiesOf(c)
	w, ok := withAbilities(tc, m)
	if !ok {
		return nil, fmt.Errorf("%w: otel: TraceCache cannot keep the abilities of %T (%s): it keeps any mix of CompareAndSetter, ManyGetter, PrefixDeleter and Counter, or all the abilities of hoard's backends, with or without Clearer, IDKeyGetter and FloorCounter",
			hoard.ErrInvalidOption, c, m)
	}
	return w, nil
}

// The calls a traced cache makes spans for.
type op uint8

const (
	opGet op = iota
	opGetWithToken
	opGetID
	opGetMany
	opGetManyWithTokens
	opSet
	opSetMany
	opCompareAndSet
	opCompareAndSetMany
	opDelete
	opDeletePrefix
	opClear
	opIncrBy
	opIncrAtLeast
	opEpoch
	opInvalidateTags
	opTagEpochs
	opCount
)

var opNames = [opCount]string{
	opGet: "get", opGetWithToken: "get_with_token", opGetID: "get_id", opGetMany: "get_many",
	opGetManyWithTokens: "get_many_with_tokens", opSet: "set", opSetMany: "set_many",
	opCompareAndSet: "compare_and_set", opCompareAndSetMany: "compare_and_set_many", opDelete: "delete",
	opDeletePrefix: "delete_prefix", opClear: "clear", opIncrBy: "incr_by", opIncrAtLeast: "incr_at_least", opEpoch: "epoch",
	opInvalidateTags: "invalidate_tags", opTagEpochs: "tag_epochs",
}

// The span names of each tier's calls, made once.
var sharedNames, memoryNames = spanNames(hoard.TierShared), spanNames(hoard.TierMemory)

func spanNames(tier hoard.Tier) [opCount]string {
	var out [opCount]string
	for i, n := range opNames {
		out[i] = "hoard." + tier.String() + "." + n
	}
	return out
}

// tracedCache is the core of every TraceCache wrapper: the calls of
// hoard.Cache. The optional abilities are in the parts below, which the
// wrapper types embed as the inner cache has them.
type tracedCache[V any] struct {
	inner hoard.Cache[V]
	t     *Tracer
	tier  attribute.KeyValue
	names *[opCount]string

	// inner's optional abilities; nil for one it lacks.
	cas        hoard.CompareAndSetter[V]
	getMany    hoard.ManyGetter[V]
	setMany    hoard.ManySetter[V]
	manyTokens hoard.ManyTokenGetter[V]
	casMany    hoard.ManyCompareAndSetter[V]
	byID       hoard.IDKeyGetter[V]
	prefix     hoard.PrefixDeleter
	clearer    hoard.Clearer
	counter    hoard.Counter
	floor      hoard.FloorCounter
	tagClock   hoard.TagClock
}

// start starts the span of call o.
func (c *tracedCache[V]) start(ctx context.Context, o op) (context.Context, trace.Span) {
	ctx, span := c.t.start(ctx, c.names[o])
	if span.IsRecording() {
		span.SetAttributes(c.tier)
	}
	return ctx, span
}

// startKey starts the span of call o on one key.
func (c *tracedCache[V]) startKey(ctx context.Context, o op, key string) (context.Context, trace.Span) {
	ctx, span := c.t.start(ctx, c.names[o])
	if span.IsRecording() {
		span.SetAttributes(c.tier)
		c.t.setKey(span, key)
	}
	return ctx, span
}

// startMany starts the span of call o on n keys.
func (c *tracedCache[V]) startMany(ctx context.Context, o op, n int) (context.Context, trace.Span) {
	ctx, span := c.t.start(ctx, c.names[o])
	if span.IsRecording() {
		span.SetAttributes(c.tier, AttrKeys.Int(n))
	}
	return ctx, span
}

// endRead ends the span of a one-key read: a miss is an answer.
func endRead(span trace.Span, err error) {
	if span.IsRecording() {
		span.SetAttributes(AttrHit.Bool(err == nil))
	}
	endWith(span, err, hoard.ErrNotFound)
}

// endCAS ends the span of a compare-and-set: a conflict is an answer.
func endCAS(span trace.Span, err error) {
	if span.IsRecording() {
		switch {
		case err == nil:
			span.SetAttributes(AttrOutcome.String("stored"))
		case errors.Is(err, hoard.ErrConflict):
			span.SetAttributes(AttrOutcome.String("conflict"))
		}
	}
	endWith(span, err, hoard.ErrConflict)
}

// Get reads key from the traced cache.
func (c *tracedCache[V]) Get(ctx context.Context, key string) (hoard.Entry[V], error) {
	ctx, span := c.startKey(ctx, opGet, key)
	e, err := c.inner.Get(ctx, key)
	endRead(span, err)
	return e, err
}

// Set writes key in the traced cache.
func (c *tracedCache[V]) Set(ctx context.Context, key string, e hoard.Entry[V]) error {
	ctx, span := c.startKey(ctx, opSet, key)
	err := c.inner.Set(ctx, key, e)
	endWith(span, err)
	return err
}

// Delete deletes keys from the traced cache.
func (c *tracedCache[V]) Delete(ctx context.Context, keys ...string) error {
	var span trace.Span
	if len(keys) == 1 {
		ctx, span = c.startKey(ctx, opDelete, keys[0])
	} else {
		ctx, span = c.startMany(ctx, opDelete, len(keys))
	}
	err := c.inner.Delete(ctx, keys...)
	endWith(span, err)
	return err
}

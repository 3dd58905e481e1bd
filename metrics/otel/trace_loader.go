package otel

import (
	"context"
	"errors"

	"github.com/hoard-cache/hoard"
)

// The names of the loaders' spans.
const (
	LoadSpan     = "hoard.load"      // one call of a traced Loader
	LoadManySpan = "hoard.load_many" // one call of a traced BatchLoader
)

// TraceLoader returns l with a span named [LoadSpan] around each call: the
// time the cache spent in the source of truth. It carries the cache's
// name, the id (as the Tracer's KeyMode says) and hoard.outcome: "ok",
// "not_found" (an error wrapping [hoard.ErrNotFound], which the cache
// stores as a negative entry), "not_modified" ([hoard.ErrNotModified]) or
// "error", which also marks the span failed. The loader runs under the
// span, so the spans of its own queries are its children. A nil t returns
// l as it is.
func TraceLoader[V any](t *Tracer, l hoard.Loader[V]) hoard.Loader[V] {
	if t == nil || l == nil {
		return l
	}
	return &tracedLoader[V]{inner: l, t: t}
}

type tracedLoader[V any] struct {
	inner hoard.Loader[V]
	t     *Tracer
}

// Load loads id under a span.
func (l *tracedLoader[V]) Load(ctx context.Context, id string) (V, error) {
	ctx, span := l.t.start(ctx, LoadSpan)
	if span.IsRecording() {
		l.t.setKey(span, id)
	}
	v, err := l.inner.Load(ctx, id)
	if span.IsRecording() {
		span.SetAttributes(AttrOutcome.String(loadOutcome(err)))
	}
	endWith(span, err, hoard.ErrNotFound, hoard.ErrNotModified)
	return v, err
}

// loadOutcome names what a load came to.
func loadOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, hoard.ErrNotFound):
		return "not_found"
	case errors.Is(err, hoard.ErrNotModified):
		return "not_modified"
	}
	return "error"
}

// TraceBatchLoader returns l with a span named [LoadManySpan] around each
// call, carrying the cache's name, hoard.keys (how many ids were asked
// for), hoard.hits (how many values came back: the others are cached as
// "not found") and hoard.outcome "ok" or "error", which also marks the
// span failed. A nil t returns l as it is.
func TraceBatchLoader[V any](t *Tracer, l hoard.BatchLoader[V]) hoard.BatchLoader[V] {
	if t == nil || l == nil {
		return l
	}
	return &tracedBatchLoader[V]{inner: l, t: t}
}

type tracedBatchLoader[V any] struct {
	inner hoard.BatchLoader[V]
	t     *Tracer
}

// LoadMany loads ids under a span.
func (l *tracedBatchLoader[V]) LoadMany(ctx context.Context, ids []string) (map[string]V, error) {
	ctx, span := l.t.start(ctx, LoadManySpan)
	if span.IsRecording() {
		span.SetAttributes(AttrKeys.Int(len(ids)))
	}
	found, err := l.inner.LoadMany(ctx, ids)
	if span.IsRecording() {
		span.SetAttributes(AttrHits.Int(len(found)), AttrOutcome.String(loadOutcome(err)))
	}
	endWith(span, err)
	return found, err
}

package otel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/recorderkit"
	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The attributes of hoard's spans.
const (
	AttrCache   = attribute.Key("hoard.cache")      // the cache's name (TraceOptions.Name)
	AttrTier    = attribute.Key("hoard.tier")       // "memory" or "shared"
	AttrKey     = attribute.Key("hoard.key")        // the key or id, with KeysRaw
	AttrKeyHash = attribute.Key("hoard.key.hash")   // a hash of the key or id, with KeysHashed
	AttrKeys    = attribute.Key("hoard.keys")       // how many keys or ids a batch call names
	AttrHit     = attribute.Key("hoard.hit")        // whether a one-key read found an entry
	AttrHits    = attribute.Key("hoard.hits")       // how many entries a batch read found
	AttrOutcome = attribute.Key("hoard.outcome")    // what a load, lock or compare-and-set came to
	AttrPolls   = attribute.Key("hoard.lock.polls") // how many TryLock calls a lock wait made
)

// KeyMode says how spans show the key of a cache call or the id of a load.
type KeyMode uint8

// The key modes.
const (
	// KeysHashed puts the first 8 bytes of the key's SHA-256, in hex, in
	// hoard.key.hash: spans of one key can be found together, and the key
	// itself stays out of the tracing backend. A key built from a guessable
	// id (a user number) can still be found by hashing guesses: use
	// KeysOmitted when that matters.
	KeysHashed KeyMode = iota
	// KeysRaw puts the key itself in hoard.key. Keys hold the ids callers
	// pass: use it only when ids carry nothing private.
	KeysRaw
	// KeysOmitted leaves keys out of spans.
	KeysOmitted
	keyModes
)

// TraceOptions configure a [Tracer]. The zero value, and a nil
// *TraceOptions, give the defaults documented on each field.
type TraceOptions struct {
	// TracerProvider makes the tracer, named [ScopeName], that starts the
	// spans. Default: the global provider, otel.GetTracerProvider().
	TracerProvider trace.TracerProvider

	// Name is the cache's name, its AsideOptions.Name: the hoard.cache
	// attribute of every span. Default: none, and no hoard.cache
	// attribute.
	Name string

	// Keys says how spans show keys and ids. Default: KeysHashed.
	Keys KeyMode
}

// Tracer traces one cache: the calls to its tiers ([TraceCache]), its
// loads ([TraceLoader], [TraceBatchLoader]) and its distributed locks
// ([Tracer.Locker]), each a span that is a child of the span in the
// call's ctx, so a request's trace shows where the cache spent its time.
// Make one with [NewTracer]; it is safe for concurrent use. A nil *Tracer
// traces nothing: its decorators return what they are given.
type Tracer struct {
	tracer trace.Tracer
	keys   KeyMode
	// base holds the attributes every span gets (the cache's name).
	base []attribute.KeyValue
}

// NewTracer returns a Tracer with the options opts, which may be nil for
// the defaults. A bad option returns an error wrapping
// [hoard.ErrInvalidOption].
func NewTracer(opts *TraceOptions) (*Tracer, error) {
	var o TraceOptions
	if opts != nil {
		o = *opts
	}
	if o.Keys >= keyModes {
		return nil, fmt.Errorf("%w: otel: unknown TraceOptions.Keys %d", hoard.ErrInvalidOption, o.Keys)
	}
	tp := o.TracerProvider
	if tp == nil {
		tp = otelglobal.GetTracerProvider()
	}
	t := &Tracer{tracer: tp.Tracer(ScopeName), keys: o.Keys}
	if o.Name != "" {
		t.base = []attribute.KeyValue{AttrCache.String(recorderkit.Label(o.Name))}
	}
	return t, nil
}

// start starts a span named name under ctx's span, with the attributes
// of every span. Attributes are set only on a span that records, so an
// unsampled call builds none: callers check span.IsRecording() too before
// they add theirs.
func (t *Tracer) start(ctx context.Context, name string) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, name)
	if span.IsRecording() && len(t.base) > 0 {
		span.SetAttributes(t.base...)
	}
	return ctx, span
}

// keyAttr returns the attribute that shows key, and false with
// KeysOmitted.
func (t *Tracer) keyAttr(key string) (attribute.KeyValue, bool) {
	switch t.keys {
	case KeysRaw:
		return AttrKey.String(recorderkit.Label(key)), true
	case KeysHashed:
		sum := sha256.Sum256([]byte(key))
		return AttrKeyHash.String(hex.EncodeToString(sum[:8])), true
	}
	return attribute.KeyValue{}, false
}

// setKey puts key on span as the key mode says.
func (t *Tracer) setKey(span trace.Span, key string) {
	if kv, ok := t.keyAttr(key); ok {
		span.SetAttributes(kv)
	}
}

// fail marks span as failed with err; a nil err leaves it as it is.
func fail(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// endWith ends span after a call that returned err: an error wrapping
// one of expected is an answer, not a failure (a miss, a conflict), so it
// does not mark the span failed.
func endWith(span trace.Span, err error, expected ...error) {
	if err != nil && span.IsRecording() {
		answer := false
		for _, e := range expected {
			if errors.Is(err, e) {
				answer = true
				break
			}
		}
		if !answer {
			fail(span, err)
		}
	}
	span.End()
}

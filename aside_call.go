package hoard

import (
	"context"
	"errors"
	"time"
)

// Source says what answered a read: see [CallOptions].Source.
type Source uint8

// The sources.
const (
	SourceNone   Source = iota // nothing answered: the read failed
	SourceMemory               // the memory tier, fresh
	SourceShared               // the shared tier, fresh
	SourceLoader               // the loader, this call's or a load it joined
	SourceStale                // a stale copy, served by the fail-safe (err matches ErrServedStale)
)

// String returns "none", "memory", "shared", "loader" or "stale".
func (s Source) String() string {
	switch s {
	case SourceMemory:
		return "memory"
	case SourceShared:
		return "shared"
	case SourceLoader:
		return "loader"
	case SourceStale:
		return "stale"
	}
	return "none"
}

// CallOptions change one read of an [Aside] ([Aside.GetWith]). The zero
// value is a plain Get.
type CallOptions struct {
	// SkipMemory neither reads nor writes the memory tier in this call.
	SkipMemory bool
	// SkipShared neither reads nor writes the shared tier in this call.
	SkipShared bool
	// NoLock loads without the distributed lock (AsideOptions.Stampede)
	// in this call: one load per key in this process still.
	NoLock bool
	// TTL, when positive, is how long a value this call loads stays fresh,
	// instead of the cache's TTL (as the loader's SetTTL would).
	TTL time.Duration
	// Tags tag the value this call loads, beside the loader's and TagsOf's
	// (as the loader's SetTags would). They need an Invalidator.
	Tags []string
	// Source, when set, is set to what answered. A read that joins a load
	// in flight shares that load's tiers and options.
	Source *Source
}

// callFlags are the tier and lock switches of a call, carried by its ctx
// into the load.
type callFlags struct{ skipMemory, skipShared, noLock bool }

// callFlagsKey keys a call's flags in its ctx.
type callFlagsKey struct{}

// flagsOf returns ctx's call flags.
func flagsOf(ctx context.Context) callFlags {
	f, _ := ctx.Value(callFlagsKey{}).(callFlags)
	return f
}

// skips reports whether this call leaves tier c alone.
func (a *Aside[V]) skips(ctx context.Context, c Cache[V]) bool {
	f := flagsOf(ctx)
	return (f.skipMemory && c == a.opts.Memory) || (f.skipShared && c == a.opts.Shared)
}

// GetWith is [Aside.Get] with options for this call: tiers or the lock to
// skip, a TTL or tags for the value it loads, and where the answer came
// from. A hit allocates nothing when the options set only Source (or are
// nil); a tier or lock switch, a TTL or tags cost an allocation or two.
func (a *Aside[V]) GetWith(ctx context.Context, id string, loader Loader[V], o *CallOptions) (V, error) {
	if o == nil {
		return a.get(ctx, id, loader, nil, false)
	}
	f := callFlags{skipMemory: o.SkipMemory, skipShared: o.SkipShared, noLock: o.NoLock}
	if f != (callFlags{}) {
		ctx = context.WithValue(ctx, callFlagsKey{}, f)
	}
	if o.TTL > 0 || len(o.Tags) > 0 {
		loader = callLoader[V]{inner: loader, ttl: o.TTL, tags: o.Tags}
	}
	return a.get(ctx, id, loader, o.Source, f.skipMemory)
}

// callLoader is a loader with a call's TTL and tags.
type callLoader[V any] struct {
	inner Loader[V]
	ttl   time.Duration
	tags  []string
}

func (l callLoader[V]) Load(ctx context.Context, id string) (V, error) {
	v, err := l.inner.Load(ctx, id)
	if l.ttl > 0 {
		SetTTL(ctx, l.ttl)
	}
	if len(l.tags) > 0 {
		SetTags(ctx, l.tags...)
	}
	return v, err
}

// answered records in src, when set, what gave a Get its result.
func answered(src *Source, s Source, err error) {
	if src != nil { // apart, so that this test inlines into the hit path
		setAnswered(src, s, err)
	}
}

func setAnswered(src *Source, s Source, err error) {
	switch {
	case errors.Is(err, ErrServedStale):
		*src = SourceStale
	case err != nil && !errors.Is(err, ErrNotFound):
		*src = SourceNone
	default:
		*src = s
	}
}

package httpcache

import (
	"context"
	"errors"

	"github.com/hoard-cache/hoard"
)

// A shared tier (Redis) refuses a value over its MaxValueBytes with
// hoard.ErrTooLarge; the Aside counts that as a backend error and goes
// on, so the response lives in the memory tier only, or nowhere. The
// Cache wraps the shared tier to see such refusals and report them to
// Options.OnSkip as ReasonSharedTooLarge, with the request whose render
// was refused. Without a memory tier, the key is then remembered as
// "pass" for NegativeTTL (hit-for-pass), so requests stop queuing behind
// renders that are never stored.

// watchedTier is the shared tier with its writes watched. It keeps the
// optional abilities the Aside uses on a shared tier: compare-and-set
// and prefix delete (see wrapShared).
type watchedTier struct {
	hoard.Cache[*Response]
	c *Cache
}

// refused reports a write of e that the tier refused with err.
// When the refusal is for size, it reports the skip and, without a
// memory tier, writes a "pass" entry instead with write.
func (t *watchedTier) refused(ctx context.Context, e hoard.Entry[*Response], err error, write func(hoard.Entry[*Response]) error) error {
	if err == nil || !errors.Is(err, hoard.ErrTooLarge) || e.Negative {
		return err
	}
	c := t.c
	if l, ok := ctx.Value(loadKey{}).(*load); ok {
		c.skipped(l.r, ReasonSharedTooLarge)
	} else {
		c.skipped(nil, ReasonSharedTooLarge)
	}
	if !c.hasMemory && c.negativeTTL > 0 {
		pass := hoard.Entry[*Response]{Negative: true, WrittenAt: e.WrittenAt, LoadDuration: e.LoadDuration,
			ExpiresAt: e.WrittenAt.Add(c.negativeTTL), Tags: e.Tags, TagEpoch: e.TagEpoch}
		if werr := write(pass); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

// Set is the tier's Set, watched.
func (t *watchedTier) Set(ctx context.Context, key string, e hoard.Entry[*Response]) error {
	err := t.Cache.Set(ctx, key, e)
	return t.refused(ctx, e, err, func(p hoard.Entry[*Response]) error { return t.Cache.Set(ctx, key, p) })
}

// casPart is a tier's compare-and-set, watched.
type casPart struct {
	t   *watchedTier
	cas hoard.CompareAndSetter[*Response]
}

// GetWithToken is the tier's.
func (p casPart) GetWithToken(ctx context.Context, key string) (hoard.Entry[*Response], hoard.Token, error) {
	return p.cas.GetWithToken(ctx, key)
}

// CompareAndSet is the tier's, watched.
func (p casPart) CompareAndSet(ctx context.Context, key string, tok hoard.Token, e hoard.Entry[*Response]) error {
	err := p.cas.CompareAndSet(ctx, key, tok, e)
	return p.t.refused(ctx, e, err, func(pass hoard.Entry[*Response]) error {
		return p.cas.CompareAndSet(ctx, key, tok, pass)
	})
}

// prefixPart is a tier's prefix delete.
type prefixPart struct{ pd hoard.PrefixDeleter }

// DeletePrefix is the tier's.
func (p prefixPart) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	return p.pd.DeletePrefix(ctx, prefix)
}

// wrapShared returns the shared tier watched, with the same optional
// abilities among those the Aside uses on it.
func (c *Cache) wrapShared(shared hoard.Cache[*Response]) hoard.Cache[*Response] {
	if shared == nil {
		return nil
	}
	t := &watchedTier{Cache: shared, c: c}
	cas, isCAS := shared.(hoard.CompareAndSetter[*Response])
	pd, isPD := shared.(hoard.PrefixDeleter)
	switch {
	case isCAS && isPD:
		return struct {
			*watchedTier
			casPart
			prefixPart
		}{t, casPart{t, cas}, prefixPart{pd}}
	case isCAS:
		return struct {
			*watchedTier
			casPart
		}{t, casPart{t, cas}}
	case isPD:
		return struct {
			*watchedTier
			prefixPart
		}{t, prefixPart{pd}}
	}
	return t
}

// loadKey is the key of a lookup's *load in the ctx given to the Aside,
// so the shared tier's refusals can name the request.
type loadKey struct{}

package hoard

import (
	"context"
	"errors"
	"fmt"
)

// maxExpireRounds bounds Expire's compare-and-set retries on a key that
// keeps changing; past them it deletes the key.
const maxExpireRounds = 3

// Expire makes ids stale in both tiers without dropping them: the next
// read loads anew, but while the source fails the fail-safe can still
// serve the expired value (a soft delete, where Delete leaves nothing to
// fall back on). Without a fail-safe window it is Delete. Loads of these
// ids that began before Expire cannot write their values afterwards, and
// other instances drop the ids from their memory tiers (through the bus).
func (a *Aside[V]) Expire(ctx context.Context, ids ...string) error {
	var errs []error
	keys := make([]string, 0, len(ids))
	for _, id := range ids {
		key, err := a.storageKey(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, key)
		for _, c := range []Cache[V]{a.opts.Shared, a.opts.Memory} {
			if c != nil {
				if err := a.expireIn(ctx, c, key); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	a.forgetLoads(keys...)
	a.opts.Metrics.Add(EventInvalidation, TierNone, int64(len(keys)))
	if err := a.publishKeys(ctx, keys...); err != nil {
		errs = append(errs, fmt.Errorf("expired here, but %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hoard: aside %q: expire: %w", a.opts.Name, err)
	}
	return nil
}

// expireIn rewrites key's entry in c as expired now, keeping its fail-safe
// window, with compare-and-set so a newer write is never replaced by an
// older value. A key that keeps changing, an entry that cannot be read, or
// a tier without tokens gets a delete instead. Either way the key's token
// moves, as with Delete: a load that took it before Expire cannot write
// its value afterwards, even where the tier held nothing (a delete then)
// or an entry stale already (written back as it is).
func (a *Aside[V]) expireIn(ctx context.Context, c Cache[V], key string) error {
	// Without a fail-safe window there is nothing to keep the value for,
	// though a memory entry carries a StaleUntil (the shared tier's
	// expiry, see forMemory): a delete.
	if cas, ok := c.(CompareAndSetter[V]); ok && a.opts.FailSafe > 0 {
		for range maxExpireRounds {
			e, tok, err := cas.GetWithToken(ctx, key)
			if err != nil {
				break // nothing to keep (ErrNotFound), or unreadable: a delete
			}
			now := a.opts.Clock.Now()
			if !e.StaleUntil.After(now) {
				break // no fail-safe window to keep it for: a delete
			}
			if e.IsFresh(now) {
				e.ExpiresAt = now
			}
			err = cas.CompareAndSet(ctx, key, tok, e)
			if err == nil {
				return nil
			}
			if !errors.Is(err, ErrConflict) {
				break
			}
		}
	}
	if c == a.opts.Shared {
		return a.deleteShared(ctx, []string{key})
	}
	return c.Delete(ctx, key)
}

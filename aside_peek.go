package hoard

import (
	"context"
	"errors"
)

// Peek returns the entry a Get of id would serve now without loading: a
// fresh entry from the memory tier or else the shared tier, whose tags were
// not invalidated since its load, under the namespace's current version.
// It returns an error wrapping [ErrNotFound] when Get would have to load
// (or serve stale). A cached "not found" is returned as an entry with
// Negative set. Peek counts no hit or miss, fills no tier, and starts no
// refresh: it is for tests and diagnostics ("is this cached, and until
// when?"), not a read path.
func (a *Aside[V]) Peek(ctx context.Context, id string) (Entry[V], error) {
	key, err := a.storageKey(ctx, id)
	if err != nil {
		return Entry[V]{}, err
	}
	now := a.opts.Clock.Now()
	var errs []error
	for _, c := range []Cache[V]{a.opts.Memory, a.opts.Shared} {
		if c == nil {
			continue
		}
		e, err := c.Get(ctx, key)
		if err == nil && e.IsFresh(now) && a.usable(ctx, &e) {
			return e, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return Entry[V]{}, errors.Join(append(errs, ErrNotFound)...)
}

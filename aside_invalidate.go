package hoard

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Invalidation on the cache-aside: deleting keys and prefixes in both
// tiers, telling other instances over the bus, and applying what they tell.

// DeletePrefix invalidates every id that starts with idPrefix, in both
// tiers of this instance, and tells other instances through the bus. On
// Redis it SCANs the keyspace: O(n) in the keys Redis holds, and a key
// written while it runs may survive it. Prefer a Namespace bump or tags,
// which invalidate in O(1). It returns how many shared-tier keys it deleted.
func (a *Aside[V]) DeletePrefix(ctx context.Context, idPrefix string) (int, error) {
	ns, err := a.namespaceText(ctx)
	if err != nil {
		return 0, err
	}
	// Escaping is byte by byte, so the key of idPrefix is a prefix of the
	// key of every id that starts with it. Only the trailing part
	// separator is absent: a prefix of the last part.
	prefix := a.keyIn(ns, idPrefix)
	var errs []error
	n := 0
	if pd, ok := a.opts.Shared.(PrefixDeleter); ok {
		n, err = pd.DeletePrefix(ctx, prefix)
		if pdInner, ok := unguarded(a.opts.Shared).(PrefixDeleter); ok {
			err = deferUnavailable(ctx, a.opts.Breaker, err, false, "delete prefix "+prefix, func(ctx context.Context) error {
				_, err := pdInner.DeletePrefix(ctx, prefix)
				if err == nil {
					err = a.publishRaw(ctx, Invalidation{Kind: InvalidatePrefix, Value: prefix})
				}
				return err
			})
		}
		errs = append(errs, err)
	} else if a.opts.Shared != nil {
		errs = append(errs, fmt.Errorf("hoard: aside %q: the shared tier cannot delete by prefix", a.opts.Name))
	}
	if a.opts.Memory != nil {
		if pd, ok := a.opts.Memory.(PrefixDeleter); ok {
			_, err = pd.DeletePrefix(ctx, prefix)
		} else {
			err = a.flushMemory(ctx)
		}
		errs = append(errs, err)
	}
	a.flights.forget(func(k string) bool { return strings.HasPrefix(k, prefix) })
	a.opts.Metrics.Add(EventInvalidation, TierNone, int64(n))
	errs = append(errs, a.publishDeferred(ctx, Invalidation{Kind: InvalidatePrefix, Value: prefix}))
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("hoard: aside %q: delete prefix %q: %w", a.opts.Name, idPrefix, err)
	}
	return n, nil
}

// publishKeys tells the other instances, when there is a bus, that keys
// changed: they evict them from their memory tiers.
func (a *Aside[V]) publishKeys(ctx context.Context, keys ...string) error {
	if a.opts.Bus == nil || len(keys) == 0 {
		return nil
	}
	events := make([]Invalidation, len(keys))
	for i, k := range keys {
		events[i] = Invalidation{Kind: InvalidateKey, Value: k}
	}
	err := a.publishDeferred(ctx, events...)
	switch {
	case errors.Is(err, ErrDeferred):
		return fmt.Errorf("telling other instances is deferred until the bus is back (they see the change by then, or within MemoryTTL): %w", err)
	case err != nil:
		return fmt.Errorf("telling other instances failed (they see the change within MemoryTTL when the shared tier took it, else not before its TTL there): %w", err)
	}
	return nil
}

// applyInvalidations evicts what other instances invalidated from the
// memory tier. A memory delete also poisons the loads in flight here: their
// write-back to memory fails its compare-and-set.
//
// The loads in flight here of the keys named are detached (see
// FlightGroup.forget): they may have read what changed.
func (a *Aside[V]) applyInvalidations(events []Invalidation) {
	mem := a.opts.Memory
	ctx := context.Background()
	for _, ev := range events {
		var err error
		switch ev.Kind {
		case InvalidateKey:
			a.forgetLoads(ev.Value)
			if mem != nil {
				err = mem.Delete(ctx, ev.Value)
			}
		case InvalidatePrefix:
			a.flights.forget(func(k string) bool { return strings.HasPrefix(k, ev.Value) })
			if pd, ok := mem.(PrefixDeleter); ok {
				_, err = pd.DeletePrefix(ctx, ev.Value)
			} else if mem != nil {
				err = a.flushMemory(ctx)
			}
		case InvalidateAll:
			a.opts.Metrics.Add(EventBusFlush, TierMemory, 1)
			a.flights.forget(func(string) bool { return true })
			if mem != nil {
				err = a.flushMemory(ctx)
			}
		default:
			continue // tags and namespaces are checked on read
		}
		if err != nil {
			a.opts.Metrics.Add(EventBackendError, TierMemory, 1)
			continue
		}
		a.opts.Metrics.Add(EventInvalidation, TierMemory, 1)
	}
}

// flushMemory empties the memory tier.
func (a *Aside[V]) flushMemory(ctx context.Context) error {
	if cl, ok := a.opts.Memory.(Clearer); ok {
		return cl.Clear(ctx)
	}
	return fmt.Errorf("hoard: aside %q: the memory tier cannot be flushed (no Clear): it may serve stale values until MemoryTTL", a.opts.Name)
}

// Delete invalidates ids in both tiers: the shared tier first, then the
// memory tier, so a concurrent read cannot refill memory from the old
// shared value. Loads of these ids that began before Delete cannot write
// their values afterwards (compare-and-set). Only this instance's memory
// tier is reached; other instances learn of it through the invalidation
// bus, or their MemoryTTL.
func (a *Aside[V]) Delete(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ids))
	var errs []error
	var deleted []string // ids whose keys are in keys
	for _, id := range ids {
		key, err := a.storageKey(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, key)
		deleted = append(deleted, id)
	}
	errs = append(errs, a.deleteKeys(ctx, keys)...)
	// A bump this instance has not heard of yet moved the ids to new
	// keys, where a reader may be writing back the row as it was before
	// this Delete's change: read the version again, past the local copy,
	// and delete there too, until it holds still.
	for round := 0; a.opts.Namespace != "" && len(deleted) > 0 && round < maxDeleteRounds; round++ {
		moved, err := a.movedKeys(ctx, deleted, keys)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if moved == nil {
			break
		}
		keys = moved
		errs = append(errs, a.deleteKeys(ctx, keys)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hoard: aside %q: delete: %w", a.opts.Name, err)
	}
	return nil
}

// maxDeleteRounds bounds how often Delete follows the namespace's version
// when bumps keep landing while it runs.
const maxDeleteRounds = 3

// movedKeys returns the keys of ids under the namespace's current version,
// read past the local copy, or nil when they are still keys.
func (a *Aside[V]) movedKeys(ctx context.Context, ids, keys []string) ([]string, error) {
	v, err := a.opts.Invalidator.currentNamespaceVersion(ctx, a.opts.Namespace)
	if err != nil {
		return nil, fmt.Errorf("deleted under the version known here, but %w", err)
	}
	if a.keyIn(v.text, ids[0]) == keys[0] {
		return nil, nil
	}
	moved := make([]string, len(ids))
	for i, id := range ids {
		moved[i] = a.keyIn(v.text, id)
	}
	return moved, nil
}

// deleteKeys deletes keys from both tiers (shared first), detaches their
// loads and tells the other instances.
func (a *Aside[V]) deleteKeys(ctx context.Context, keys []string) []error {
	var errs []error
	if a.opts.Shared != nil {
		if err := a.deleteShared(ctx, keys); err != nil {
			errs = append(errs, err)
		}
	}
	if a.opts.Memory != nil {
		if err := a.opts.Memory.Delete(ctx, keys...); err != nil {
			errs = append(errs, err)
		}
	}
	a.forgetLoads(keys...)
	a.opts.Metrics.Add(EventInvalidation, TierNone, int64(len(keys)))
	if err := a.publishKeys(ctx, keys...); err != nil {
		errs = append(errs, fmt.Errorf("deleted here, but %w", err))
	}
	return errs
}

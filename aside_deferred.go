package hoard

import (
	"context"
	"errors"
)

// Changes that could not reach the shared tier or the bus, kept by the
// Breaker and replayed when the tier is back (see CircuitBreaker).

// deferUnavailable returns err, joined with ErrDeferred when the change it
// failed is kept for replay: with a Breaker, for a tier found unavailable
// (or a bus that could not deliver, when bus is set). apply redoes the
// change on the tier itself, past the breaker.
func deferUnavailable(ctx context.Context, b *CircuitBreaker, err error, bus bool, change string, apply func(context.Context) error) error {
	if err == nil || b == nil || (!bus && !errors.Is(err, ErrUnavailable)) {
		return err
	}
	if d := b.deferChange(ctx, change, apply); d != nil {
		return errors.Join(d, err)
	}
	return err
}

// deleteShared deletes keys from the shared tier; keys it could not reach
// are deferred, each replayed with its bus message.
func (a *Aside[V]) deleteShared(ctx context.Context, keys []string) error {
	err := a.opts.Shared.Delete(ctx, keys...)
	if err == nil || a.opts.Breaker == nil || !errors.Is(err, ErrUnavailable) {
		return err
	}
	shared := unguarded(a.opts.Shared)
	var deferred error
	for _, k := range keys {
		deferred = deferUnavailable(ctx, a.opts.Breaker, err, false, "delete "+k, func(ctx context.Context) error {
			if err := shared.Delete(ctx, k); err != nil {
				return err
			}
			return a.publishRaw(ctx, Invalidation{Kind: InvalidateKey, Value: k})
		})
	}
	return deferred
}

// publishRaw publishes events on the bus, if any, without deferring.
func (a *Aside[V]) publishRaw(ctx context.Context, events ...Invalidation) error {
	if a.opts.Bus == nil {
		return nil
	}
	return a.opts.Bus.Publish(ctx, events...)
}

// publishDeferred publishes events; a publish that fails is deferred, with
// a Breaker, each event replayed on its own. While the Breaker is open the
// bus is not tried: it is on the Redis found unavailable, and a publish
// there would hold the caller for the client's dial retries (seconds)
// before failing.
func (a *Aside[V]) publishDeferred(ctx context.Context, events ...Invalidation) error {
	if a.opts.Bus == nil || len(events) == 0 {
		return nil
	}
	var err error
	if a.opts.Breaker != nil && !a.opts.Breaker.allow() {
		err = ErrCircuitOpen
	} else {
		err = a.publishRaw(ctx, events...)
	}
	if err == nil || a.opts.Breaker == nil {
		return err
	}
	var deferred error
	for _, ev := range events {
		deferred = deferUnavailable(ctx, a.opts.Breaker, err, true, "publish "+ev.Kind.String()+" "+ev.Value, func(ctx context.Context) error {
			return a.publishRaw(ctx, ev)
		})
	}
	return deferred
}

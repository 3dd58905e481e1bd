package hoardtest

import (
	"context"

	"github.com/hoard-cache/hoard"
)

// Fault injection for tests of code built on hoard: [NewFaultyCache] and
// [NewFaultyLocker] wrap a backend and let the test decide, call by call,
// whether it fails, how long it takes, and what else happens while it is
// under way; [Faults] is a ready-made, seeded decider (a backend that is
// down, or fails a share of its calls, or is slow); [JumpingClock] moves a
// [FakeClock] forward in the middle of the code that reads it.

// The variants with the abilities only some backends have.
type (
	faultyClear[V any] struct {
		*faultyCache[V]
		clearer hoard.Clearer
	}
	faultyByID[V any] struct {
		*faultyCache[V]
		byID hoard.IDKeyGetter[V]
	}
	faultyClearByID[V any] struct {
		*faultyCache[V]
		clearer hoard.Clearer
		byID    hoard.IDKeyGetter[V]
	}
)

var (
	_ hoard.Clearer          = (*faultyClear[int])(nil)
	_ hoard.IDKeyGetter[int] = (*faultyByID[int])(nil)
	_ hoard.Clearer          = (*faultyClearByID[int])(nil)
	_ hoard.IDKeyGetter[int] = (*faultyClearByID[int])(nil)
)

func (f *faultyCache[V]) clear(ctx context.Context, cl hoard.Clearer) error {
	_, err := around(ctx, f.opts.Inject, Call{Method: "Clear", Op: OpDelete}, func() error { return cl.Clear(ctx) })
	return err
}

func (f *faultyCache[V]) getID(ctx context.Context, g hoard.IDKeyGetter[V], key hoard.IDKey) (*hoard.Entry[V], error) {
	var e *hoard.Entry[V]
	_, err := around(ctx, f.opts.Inject, Call{Method: "GetID", Op: OpRead, Keys: []string{key.String()}}, func() error {
		var err error
		e, err = g.GetID(ctx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (f *faultyClear[V]) Clear(ctx context.Context) error { return f.clear(ctx, f.clearer) }

func (f *faultyByID[V]) GetID(ctx context.Context, key hoard.IDKey) (*hoard.Entry[V], error) {
	return f.getID(ctx, f.byID, key)
}

func (f *faultyClearByID[V]) Clear(ctx context.Context) error { return f.clear(ctx, f.clearer) }

func (f *faultyClearByID[V]) GetID(ctx context.Context, key hoard.IDKey) (*hoard.Entry[V], error) {
	return f.getID(ctx, f.byID, key)
}

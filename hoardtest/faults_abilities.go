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
	faultyBytes[V any] struct {
		*faultyCache[V]
		bytes hoard.KeyBytesGetter[V]
	}
	faultyClearBytes[V any] struct {
		*faultyCache[V]
		clearer hoard.Clearer
		bytes   hoard.KeyBytesGetter[V]
	}
)

var (
	_ hoard.Clearer             = (*faultyClear[int])(nil)
	_ hoard.KeyBytesGetter[int] = (*faultyBytes[int])(nil)
	_ hoard.Clearer             = (*faultyClearBytes[int])(nil)
	_ hoard.KeyBytesGetter[int] = (*faultyClearBytes[int])(nil)
)

func (f *faultyCache[V]) clear(ctx context.Context, cl hoard.Clearer) error {
	_, err := around(ctx, f.opts.Inject, Call{Method: "Clear", Op: OpDelete}, func() error { return cl.Clear(ctx) })
	return err
}

func (f *faultyCache[V]) getBytes(ctx context.Context, kb hoard.KeyBytesGetter[V], key []byte) (*hoard.Entry[V], error) {
	var e *hoard.Entry[V]
	// The key is copied for the injector, which may keep it; the call
	// itself still gets the caller's bytes.
	_, err := around(ctx, f.opts.Inject, Call{Method: "GetBytes", Op: OpRead, Keys: []string{string(key)}}, func() error {
		var err error
		e, err = kb.GetBytes(ctx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (f *faultyClear[V]) Clear(ctx context.Context) error { return f.clear(ctx, f.clearer) }

func (f *faultyBytes[V]) GetBytes(ctx context.Context, key []byte) (*hoard.Entry[V], error) {
	return f.getBytes(ctx, f.bytes, key)
}

func (f *faultyClearBytes[V]) Clear(ctx context.Context) error { return f.clear(ctx, f.clearer) }

func (f *faultyClearBytes[V]) GetBytes(ctx context.Context, key []byte) (*hoard.Entry[V], error) {
	return f.getBytes(ctx, f.bytes, key)
}

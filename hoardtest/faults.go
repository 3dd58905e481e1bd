package hoardtest

import (
	"context"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
)

// Fault injection for tests of code built on hoard: [NewFaultyCache] and
// [NewFaultyLocker] wrap a backend and let the test decide, call by call,
// whether it fails, how long it takes, and what else happens while it is
// under way; [Faults] is a ready-made, seeded decider (a backend that is
// down, or fails a share of its calls, or is slow); [JumpingClock] moves a
// [FakeClock] forward in the middle of the code that reads it.

// ErrInjected is the error an injected fault gives by default. It wraps
// [hoard.ErrUnavailable], as a connection error from a real backend does,
// so the code under test treats it as one.
var ErrInjected = fmt.Errorf("%w: hoardtest: injected fault", hoard.ErrUnavailable)

// Op is the kind of a call to a backend, for fault injection.
type Op string

// The kinds of calls.
const (
	OpRead     Op = "read"      // Get, GetWithToken, GetID, GetMany, GetManyWithTokens
	OpWrite    Op = "write"     // Set, SetMany, CompareAndSet, CompareAndSetMany
	OpDelete   Op = "delete"    // Delete, DeletePrefix, Clear
	OpCounter  Op = "counter"   // IncrBy, IncrAtLeast (namespace versions, write versions)
	OpTagClock Op = "tag-clock" // Epoch, InvalidateTags, TagEpochs
	OpLock     Op = "lock"      // TryLock, Refresh, Release
)

// Call is one call a faulty wrapper is about to make to what it wraps.
type Call struct {
	Method string   // the method: "Get", "CompareAndSet", "IncrBy", "TagEpochs", "TryLock", ...
	Op     Op       // its kind
	Keys   []string // the keys it touches: entry keys, the prefix, the counter, the tags, the lock's key
	Delta  int64    // IncrBy's delta (0 reads the counter), IncrAtLeast's floor
}

// Fault is what happens to one call.
type Fault struct {
	// Delay is waited (in real time, or until the call's ctx ends) before
	// the call is made.
	Delay time.Duration
	// Err, when set, fails the call: it is not made, and Err is returned.
	Err error
	// After makes the call anyway before failing it with Err: the write
	// took effect but its answer was lost, as with a timeout.
	After bool
	// Then runs after the wrapped call returned and before the caller
	// sees the result: a race made to order (another instance's write, an
	// invalidation) at an exact point of the code under test.
	Then func()
}

// Injector decides the fault of each call; the zero Fault lets the call
// through. It is called concurrently.
type Injector func(ctx context.Context, c Call) Fault

// FaultOptions configure [NewFaultyCache].
type FaultOptions[V any] struct {
	// Inject decides each call's fault. nil: none.
	Inject Injector
	// Write, when set, is told of every entry a write call (Set, SetMany,
	// CompareAndSet, CompareAndSetMany) is about to hand to the wrapped
	// cache, before the call is made, so that it knows of the entry
	// before anyone can read it. The function it returns, when not nil, is
	// told the wrapped cache's answer once the call returned (nil: the
	// entry was stored; a batch's one answer for each of its entries),
	// before the fault's Then runs. A call an injected fault stopped
	// before it was made reports the fault's error. A fault that fails the
	// call after it was made (Fault.After) reports the wrapped cache's
	// answer: the entry is stored though the caller gets an error.
	Write func(ctx context.Context, c Call, key string, e hoard.Entry[V]) (done func(err error))
}

// Cache is everything a [NewFaultyCache] wrapper forwards: the abilities
// that both the memory and the Redis backends have.
type Cache[V any] interface {
	hoard.Cache[V]
	hoard.ManyGetter[V]
	hoard.ManySetter[V]
	hoard.CompareAndSetter[V]
	hoard.ManyTokenGetter[V]
	hoard.ManyCompareAndSetter[V]
	hoard.PrefixDeleter
	hoard.Counter
	hoard.FloorCounter
	hoard.TagClock
}

// NewFaultyCache wraps inner so that every call goes through opts.Inject.
// The wrapper has exactly inner's optional abilities among those that
// cache-aside, write-through, write-behind and the invalidator look for:
// it forwards everything in [Cache], and [hoard.Clearer] and
// [hoard.IDKeyGetter] when inner has them, so code that finds an
// ability by type assertion behaves as it does on inner.
func NewFaultyCache[V any](inner Cache[V], opts FaultOptions[V]) hoard.Cache[V] {
	f := &faultyCache[V]{inner: inner, opts: opts}
	cl, clear := inner.(hoard.Clearer)
	g, byID := inner.(hoard.IDKeyGetter[V])
	switch {
	case clear && byID:
		return &faultyClearByID[V]{f, cl, g}
	case clear:
		return &faultyClear[V]{f, cl}
	case byID:
		return &faultyByID[V]{f, g}
	}
	return f
}

type faultyCache[V any] struct {
	inner Cache[V]
	opts  FaultOptions[V]
}

var _ Cache[int] = (*faultyCache[int])(nil)

// around makes call c through fn, applying its fault: it reports whether
// fn was made, and fn's result or the fault's error.
func around(ctx context.Context, inject Injector, c Call, fn func() error) (made bool, err error) {
	var f Fault
	if inject != nil {
		f = inject(ctx, c)
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("%w: hoardtest: %s delayed: %w", hoard.ErrUnavailable, c.Method, context.Cause(ctx))
		}
	}
	if f.Err != nil && !f.After {
		if f.Then != nil {
			f.Then()
		}
		return false, f.Err
	}
	err = fn()
	if f.Then != nil {
		f.Then()
	}
	if f.Err != nil {
		return true, f.Err
	}
	return true, err
}

// writing tells opts.Write of the entries a write is about to hand to the
// wrapped cache, and returns what to tell it of the answer.
func (f *faultyCache[V]) writing(ctx context.Context, c Call, keys []string, entries []hoard.Entry[V]) func(err error) {
	if f.opts.Write == nil {
		return func(error) {}
	}
	dones := make([]func(error), 0, len(keys))
	for i, k := range keys {
		if done := f.opts.Write(ctx, c, k, entries[i]); done != nil {
			dones = append(dones, done)
		}
	}
	return func(err error) {
		for _, done := range dones {
			done(err)
		}
	}
}

func (f *faultyCache[V]) Get(ctx context.Context, key string) (hoard.Entry[V], error) {
	var e hoard.Entry[V]
	_, err := around(ctx, f.opts.Inject, Call{Method: "Get", Op: OpRead, Keys: []string{key}}, func() error {
		var err error
		e, err = f.inner.Get(ctx, key)
		return err
	})
	if err != nil {
		return hoard.Entry[V]{}, err
	}
	return e, nil
}

func (f *faultyCache[V]) GetWithToken(ctx context.Context, key string) (hoard.Entry[V], hoard.Token, error) {
	var e hoard.Entry[V]
	var tok hoard.Token
	var innerErr error
	made, err := around(ctx, f.opts.Inject, Call{Method: "GetWithToken", Op: OpRead, Keys: []string{key}}, func() error {
		e, tok, innerErr = f.inner.GetWithToken(ctx, key)
		return innerErr
	})
	if made && err == innerErr {
		return e, tok, err // a miss keeps its token
	}
	return hoard.Entry[V]{}, 0, err
}

func (f *faultyCache[V]) GetMany(ctx context.Context, keys []string) (map[string]hoard.Entry[V], error) {
	var found map[string]hoard.Entry[V]
	var innerErr error
	made, err := around(ctx, f.opts.Inject, Call{Method: "GetMany", Op: OpRead, Keys: keys}, func() error {
		found, innerErr = f.inner.GetMany(ctx, keys)
		return innerErr
	})
	if made && err == innerErr {
		return found, err
	}
	return nil, err
}

func (f *faultyCache[V]) GetManyWithTokens(ctx context.Context, keys []string, each func(int, *hoard.Entry[V], hoard.Token, bool)) error {
	// The answers are kept until the fault's Then has run, and only then
	// handed to each: the caller sees them when a plain call would return.
	type answer struct {
		e      *hoard.Entry[V]
		tok    hoard.Token
		ok     bool
		called bool
	}
	var answers []answer
	var innerErr error
	made, err := around(ctx, f.opts.Inject, Call{Method: "GetManyWithTokens", Op: OpRead, Keys: keys}, func() error {
		answers = make([]answer, len(keys))
		innerErr = f.inner.GetManyWithTokens(ctx, keys, func(i int, e *hoard.Entry[V], tok hoard.Token, ok bool) {
			a := answer{tok: tok, ok: ok, called: true}
			if e != nil {
				c := *e
				a.e = &c
			}
			answers[i] = a
		})
		return innerErr
	})
	if !made || err != innerErr {
		return err
	}
	for i, a := range answers {
		if a.called {
			each(i, a.e, a.tok, a.ok)
		}
	}
	return err
}

func (f *faultyCache[V]) Set(ctx context.Context, key string, e hoard.Entry[V]) error {
	c := Call{Method: "Set", Op: OpWrite, Keys: []string{key}}
	done := f.writing(ctx, c, c.Keys, []hoard.Entry[V]{e})
	made, err := around(ctx, f.opts.Inject, c, func() error {
		err := f.inner.Set(ctx, key, e)
		done(err)
		return err
	})
	if !made {
		done(err)
	}
	return err
}

func (f *faultyCache[V]) SetMany(ctx context.Context, entries map[string]hoard.Entry[V]) error {
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	c := Call{Method: "SetMany", Op: OpWrite, Keys: keys}
	es := make([]hoard.Entry[V], len(keys))
	for i, k := range keys {
		es[i] = entries[k]
	}
	done := f.writing(ctx, c, keys, es)
	made, err := around(ctx, f.opts.Inject, c, func() error {
		err := f.inner.SetMany(ctx, entries)
		done(err)
		return err
	})
	if !made {
		done(err)
	}
	return err
}

func (f *faultyCache[V]) CompareAndSet(ctx context.Context, key string, tok hoard.Token, e hoard.Entry[V]) error {
	c := Call{Method: "CompareAndSet", Op: OpWrite, Keys: []string{key}}
	done := f.writing(ctx, c, c.Keys, []hoard.Entry[V]{e})
	made, err := around(ctx, f.opts.Inject, c, func() error {
		err := f.inner.CompareAndSet(ctx, key, tok, e)
		done(err)
		return err
	})
	if !made {
		done(err)
	}
	return err
}

func (f *faultyCache[V]) CompareAndSetMany(ctx context.Context, writes []hoard.TokenWrite[V]) error {
	keys := make([]string, len(writes))
	for i, w := range writes {
		keys[i] = w.Key
	}
	c := Call{Method: "CompareAndSetMany", Op: OpWrite, Keys: keys}
	es := make([]hoard.Entry[V], len(writes))
	for i, w := range writes {
		es[i] = w.Entry
	}
	done := f.writing(ctx, c, keys, es)
	made, err := around(ctx, f.opts.Inject, c, func() error {
		err := f.inner.CompareAndSetMany(ctx, writes)
		done(err)
		return err
	})
	if !made {
		done(err)
	}
	return err
}

func (f *faultyCache[V]) Delete(ctx context.Context, keys ...string) error {
	_, err := around(ctx, f.opts.Inject, Call{Method: "Delete", Op: OpDelete, Keys: keys}, func() error {
		return f.inner.Delete(ctx, keys...)
	})
	return err
}

func (f *faultyCache[V]) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	var n int
	_, err := around(ctx, f.opts.Inject, Call{Method: "DeletePrefix", Op: OpDelete, Keys: []string{prefix}}, func() error {
		var err error
		n, err = f.inner.DeletePrefix(ctx, prefix)
		return err
	})
	return n, err
}

func (f *faultyCache[V]) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	var n int64
	_, err := around(ctx, f.opts.Inject, Call{Method: "IncrBy", Op: OpCounter, Keys: []string{key}, Delta: delta}, func() error {
		var err error
		n, err = f.inner.IncrBy(ctx, key, delta)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (f *faultyCache[V]) IncrAtLeast(ctx context.Context, key string, floor int64) (int64, error) {
	var n int64
	_, err := around(ctx, f.opts.Inject, Call{Method: "IncrAtLeast", Op: OpCounter, Keys: []string{key}, Delta: floor}, func() error {
		var err error
		n, err = f.inner.IncrAtLeast(ctx, key, floor)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (f *faultyCache[V]) Epoch(ctx context.Context) (int64, error) {
	var n int64
	_, err := around(ctx, f.opts.Inject, Call{Method: "Epoch", Op: OpTagClock}, func() error {
		var err error
		n, err = f.inner.Epoch(ctx)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (f *faultyCache[V]) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	var n int64
	_, err := around(ctx, f.opts.Inject, Call{Method: "InvalidateTags", Op: OpTagClock, Keys: tags}, func() error {
		var err error
		n, err = f.inner.InvalidateTags(ctx, tags...)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (f *faultyCache[V]) TagEpochs(ctx context.Context, tags []string) ([]int64, error) {
	var out []int64
	_, err := around(ctx, f.opts.Inject, Call{Method: "TagEpochs", Op: OpTagClock, Keys: tags}, func() error {
		var err error
		out, err = f.inner.TagEpochs(ctx, tags)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

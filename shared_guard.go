package hoard

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// SharedBudget bounds the time an [Aside] spends on its shared tier
// (AsideOptions.SharedBudget), so a slow or black-holed Redis costs a
// reader a bounded wait, and leaves the loader its time.
type SharedBudget struct {
	// SoftTimeout bounds a shared-tier read when a usable value is at hand
	// (a memory entry past its freshness, within the fail-safe window):
	// past it the reader gets that value with [ErrServedStale] at once, and
	// a refresh goes on in the background. Default: 0, no soft timeout.
	SoftTimeout time.Duration

	// HardTimeout bounds every shared-tier call but DeletePrefix (whose
	// SCAN takes as long as the keyspace does): past it the call fails
	// with an error matching [ErrUnavailable] (it counts toward the
	// breaker), and the rest of the reader's call skips the shared tier.
	// Default: 0, no bound but the caller's ctx.
	HardTimeout time.Duration

	// BackgroundWrites writes a load's value back to the shared tier in
	// the background, so a miss returns as soon as the loader does and the
	// memory tier holds the value. Default: false, a miss returns after
	// its write-back.
	BackgroundWrites bool
}

// sharedTier is what a guarded shared tier must do: every ability the
// Aside uses on its shared tier.
type sharedTier[V any] interface {
	Cache[V]
	CompareAndSetter[V]
	ManyGetter[V]
	ManyTokenGetter[V]
	ManyCompareAndSetter[V]
	PrefixDeleter
	FloorCounter
}

// guardedTier is a shared tier behind a hard timeout and a circuit
// breaker: a call the breaker refuses fails at once with ErrCircuitOpen.
type guardedTier[V any] struct {
	inner sharedTier[V]
	sharedGuard
}

// sharedGuard bounds a call to the shared Redis, whatever it is for (the
// tier, the locker, the invalidator's counters and tag clock): the breaker,
// the hard timeout, the read's skip mark and soft budget.
type sharedGuard struct {
	hard    time.Duration
	breaker *CircuitBreaker
}

// guardShared wraps c when a budget or a breaker is set; c must then have
// every ability of sharedTier.
func guardShared[V any](name string, c Cache[V], budget *SharedBudget, b *CircuitBreaker) (Cache[V], error) {
	if c == nil || (budget == nil && b == nil) {
		return c, nil
	}
	full, ok := c.(sharedTier[V])
	if !ok {
		return nil, fmt.Errorf("%w: aside %q: SharedBudget and Breaker need a shared tier with compare-and-set, batch reads and writes, prefix deletes and floor counters (as hoardredis.Cache and memory.Cache have)", ErrInvalidOption, name)
	}
	g := &guardedTier[V]{inner: full, sharedGuard: sharedGuard{breaker: b}}
	if budget != nil {
		g.hard = budget.HardTimeout
	}
	return g, nil
}

// sharedSkipKey marks a ctx whose call (one Get, its load and write-back)
// skips the shared tier once a call of it ran past the hard timeout.
type sharedSkipKey struct{}

// withSharedSkip returns ctx with a skip mark, set already when spent (an
// earlier call of the read, made before the mark existed, ran past the
// hard timeout).
func withSharedSkip(ctx context.Context, spent bool) context.Context {
	if mark, ok := ctx.Value(sharedSkipKey{}).(*atomic.Bool); ok {
		if spent {
			mark.Store(true)
		}
		return ctx
	}
	mark := new(atomic.Bool)
	mark.Store(spent)
	return context.WithValue(ctx, sharedSkipKey{}, mark)
}

// withoutSharedSkip returns ctx without a skip mark: for work that outlives
// the read, which starts with a budget of its own.
func withoutSharedSkip(ctx context.Context) context.Context {
	if ctx.Value(sharedSkipKey{}) == nil {
		return ctx
	}
	return context.WithValue(ctx, sharedSkipKey{}, nil)
}

// sharedSkippedIn returns err, saying also that the shared tier was
// skipped past its hard timeout when a call of ctx's read ran past it: the
// caller learns where the time went, and the error matches ErrUnavailable.
func sharedSkippedIn(ctx context.Context, err error, hard time.Duration) error {
	if mark, _ := ctx.Value(sharedSkipKey{}).(*atomic.Bool); mark == nil || !mark.Load() {
		return err
	}
	return &skippedSharedError{err: err, hard: hard}
}

// skippedSharedError is a read's error after its shared-tier calls ran
// past the hard timeout.
type skippedSharedError struct {
	err  error
	hard time.Duration
}

func (e *skippedSharedError) Error() string {
	return fmt.Sprintf("%v (the shared tier did not answer within its hard timeout of %v; the rest of the read skipped it)", e.err, e.hard)
}

func (e *skippedSharedError) Unwrap() []error { return []error{e.err, ErrUnavailable} }

// errSkippedShared is a shared-tier call skipped because an earlier call of
// the same read ran past the hard timeout.
var errSkippedShared = fmt.Errorf("%w: skipped: an earlier call of this read ran past the shared tier's hard timeout", ErrUnavailable)

// softBudgetKey marks a ctx whose shared-tier reads have a soft timeout.
type softBudgetKey struct{}

// withSoftBudget returns ctx with shared-tier calls bounded by soft.
func withSoftBudget(ctx context.Context, soft time.Duration) context.Context {
	return context.WithValue(ctx, softBudgetKey{}, soft)
}

// errSoftTimeoutShared is a shared-tier read that ran past its soft
// timeout: the tier is slow, not known down, and the breaker is not told.
var errSoftTimeoutShared = errors.New("hoard: the shared tier did not answer within the soft timeout")

// errHardTimeout is a shared-tier call that ran past its hard timeout.
type errHardTimeout struct{ d time.Duration }

func (e errHardTimeout) Error() string {
	return fmt.Sprintf("hoard: the shared tier did not answer within the hard timeout (%v)", e.d)
}
func (errHardTimeout) Is(target error) bool {
	return target == ErrUnavailable || target == context.DeadlineExceeded
}

// do runs call under the breaker and the timeouts.
func (g sharedGuard) do(ctx context.Context, call func(context.Context) error) error {
	if !g.breaker.allow() {
		return ErrCircuitOpen
	}
	skip, _ := ctx.Value(sharedSkipKey{}).(*atomic.Bool)
	if skip != nil && skip.Load() {
		return errSkippedShared
	}
	limit, soft := g.hard, time.Duration(0)
	if s, ok := ctx.Value(softBudgetKey{}).(time.Duration); ok && s > 0 && (limit == 0 || s < limit) {
		limit, soft = s, s
	}
	if cd, ok := ctx.Deadline(); ok && limit > 0 && time.Until(cd) <= limit {
		limit, soft = 0, 0 // the caller's deadline comes first: it is the bound
	}
	cctx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	err := call(cctx)
	// The budget's deadline, not the caller's: a client's read deadline is
	// set from it and may fire before the ctx's own timer has run, so the
	// clock decides.
	if err != nil && ctx.Err() == nil && limit > 0 && budgetSpent(cctx) {
		// The budget's own deadline, not the caller's.
		if soft > 0 {
			return errors.Join(errSoftTimeoutShared, err)
		}
		err = errors.Join(errHardTimeout{limit}, err)
		if skip != nil {
			skip.Store(true)
		}
	}
	if ctx.Err() == nil {
		g.breaker.record(err != nil && errUnavailableNow(err))
	}
	return err
}

func (g *guardedTier[V]) Get(ctx context.Context, key string) (e Entry[V], err error) {
	err = g.do(ctx, func(ctx context.Context) (err error) { e, err = g.inner.Get(ctx, key); return err })
	return e, err
}

func (g *guardedTier[V]) Set(ctx context.Context, key string, e Entry[V]) error {
	return g.do(ctx, func(ctx context.Context) error { return g.inner.Set(ctx, key, e) })
}

func (g *guardedTier[V]) Delete(ctx context.Context, keys ...string) error {
	return g.do(ctx, func(ctx context.Context) error { return g.inner.Delete(ctx, keys...) })
}

func (g *guardedTier[V]) GetWithToken(ctx context.Context, key string) (e Entry[V], tok Token, err error) {
	err = g.do(ctx, func(ctx context.Context) (err error) { e, tok, err = g.inner.GetWithToken(ctx, key); return err })
	return e, tok, err
}

func (g *guardedTier[V]) CompareAndSet(ctx context.Context, key string, tok Token, e Entry[V]) error {
	return g.do(ctx, func(ctx context.Context) error { return g.inner.CompareAndSet(ctx, key, tok, e) })
}

func (g *guardedTier[V]) GetMany(ctx context.Context, keys []string) (found map[string]Entry[V], err error) {
	err = g.do(ctx, func(ctx context.Context) (err error) { found, err = g.inner.GetMany(ctx, keys); return err })
	return found, err
}

func (g *guardedTier[V]) GetManyWithTokens(ctx context.Context, keys []string, each func(i int, e *Entry[V], tok Token, tokOK bool)) error {
	return g.do(ctx, func(ctx context.Context) error { return g.inner.GetManyWithTokens(ctx, keys, each) })
}

func (g *guardedTier[V]) CompareAndSetMany(ctx context.Context, writes []TokenWrite[V]) error {
	return g.do(ctx, func(ctx context.Context) error { return g.inner.CompareAndSetMany(ctx, writes) })
}

// DeletePrefix is not bounded by the hard timeout: its SCAN takes as long
// as the keyspace does.
func (g *guardedTier[V]) DeletePrefix(ctx context.Context, prefix string) (n int, err error) {
	unbounded := sharedGuard{breaker: g.breaker}
	err = unbounded.do(ctx, func(ctx context.Context) (err error) { n, err = g.inner.DeletePrefix(ctx, prefix); return err })
	return n, err
}

func (g *guardedTier[V]) IncrBy(ctx context.Context, key string, delta int64) (n int64, err error) {
	err = g.do(ctx, func(ctx context.Context) (err error) { n, err = g.inner.IncrBy(ctx, key, delta); return err })
	return n, err
}

func (g *guardedTier[V]) IncrAtLeast(ctx context.Context, key string, floor int64) (n int64, err error) {
	err = g.do(ctx, func(ctx context.Context) (err error) { n, err = g.inner.IncrAtLeast(ctx, key, floor); return err })
	return n, err
}

// unguarded returns the tier behind c's guard, or c.
func unguarded[V any](c Cache[V]) Cache[V] {
	if g, ok := c.(*guardedTier[V]); ok {
		return g.inner
	}
	return c
}

// budgetSpent reports whether ctx's deadline has passed.
func budgetSpent(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() != nil || (ok && !time.Now().Before(d))
}

package hoard

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// FlightGroup runs one load per key at a time in this process: callers that
// ask for a key while its load runs wait for that load's result instead of
// starting their own. It is the in-process half of stampede protection; the
// zero FlightGroup is ready to use.
//
// Unlike golang.org/x/sync/singleflight, every waiter may leave when its own
// ctx ends, and the load is canceled when the last waiter has left. A load
// that panics reaches every waiter as a [*PanicError] carrying the stack.
type FlightGroup[V any] struct {
	mu      sync.Mutex            // guards flights
	flights map[string]*flight[V] // the loads running now, by key
	// landed counts the loads that have ended: a caller that read the
	// tiers before a load of its key ended must read them again.
	landed atomic.Uint64
}

// flight is one running load.
type flight[V any] struct {
	done   chan struct{} // closed when val and err are set
	val    V
	err    error
	cancel context.CancelFunc // cancels the load's ctx
	// waiters counts the callers still waiting; guarded by the group's mu.
	waiters int
	gen     uint64    // the generation the load began in (see doSince)
	started time.Time // when the load began, by the caller's clock (see doSince)
}

// Do returns the result of fn for key, running fn only if no load of key is
// running; otherwise it waits for the running one. shared reports whether
// the result came from a load other callers waited for too.
//
// fn runs in a goroutine of its own with a ctx that carries the values of
// the first caller's ctx but not its cancellation: it is canceled only when
// every waiter has left. A waiter whose ctx ends returns at once with an
// error wrapping ctx.Err(); the load goes on for the others.
func (g *FlightGroup[V]) Do(ctx context.Context, key string, fn func(ctx context.Context) (V, error)) (v V, err error, shared bool) {
	v, shared, _, err = g.doSince(ctx, key, since{}, fn)
	return v, err, shared
}

// since is what a caller of doSince knows of the invalidations that may
// concern a key without naming it.
type since struct {
	gen uint64    // how many it has heard of (a count that only grows)
	now time.Time // the time now, by the caller's clock
	// notBefore is the time before which a load that began may hold what
	// the caller must no longer serve: a value past its shortest TTL by
	// now, or one an invalidation it never heard of (its bus message
	// lost) makes stale, owed by now (MaxStaleness). Zero: none.
	notBefore time.Time
}

// doSince is Do for a caller that knows s. It joins a load begun before
// the latest invalidation it heard of, or before s.notBefore, too, and then
// reports older: that load may have read what such an invalidation
// changed, so the caller must check the value before using it.
// (Invalidations that name keys do not count here: they detach the loads
// of those keys, see forget.)
func (g *FlightGroup[V]) doSince(ctx context.Context, key string, s since, fn func(ctx context.Context) (V, error)) (v V, shared, older bool, err error) {
	g.mu.Lock()
	if g.flights == nil {
		g.flights = make(map[string]*flight[V])
	}
	f, running := g.flights[key]
	if running {
		f.waiters++
		older = f.gen < s.gen || f.started.Before(s.notBefore)
	} else {
		loadCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight[V]{done: make(chan struct{}), cancel: cancel, waiters: 1, gen: s.gen, started: s.now}
		g.flights[key] = f
		go g.run(loadCtx, key, f, fn)
	}
	g.mu.Unlock()

	select {
	case <-f.done:
		g.mu.Lock()
		f.waiters--
		shared = running || f.waiters > 0
		g.mu.Unlock()
		return f.val, shared, older, f.err
	case <-ctx.Done():
		g.leave(key, f)
		var zero V
		return zero, running, older, fmt.Errorf("hoard: gave up waiting for the load of %q: %w", key, context.Cause(ctx))
	}
}

// forget detaches the running loads of every key that matches: the next
// caller of such a key starts a new load, while those already waiting keep
// waiting for theirs. An invalidation of those keys calls it before it
// returns, so no caller that begins after it gets a value read before it.
func (g *FlightGroup[V]) forget(matches func(key string) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for key := range g.flights {
		if matches(key) {
			delete(g.flights, key)
		}
	}
}

// leave is Do's exit for a waiter whose ctx ended: the last one out cancels
// the load and forgets it, so the next caller starts afresh.
func (g *FlightGroup[V]) leave(key string, f *flight[V]) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f.waiters--
	if f.waiters == 0 {
		f.cancel()
		if g.flights[key] == f {
			delete(g.flights, key)
		}
	}
}

// run runs fn and hands its result, or its panic, to the waiters.
func (g *FlightGroup[V]) run(ctx context.Context, key string, f *flight[V], fn func(context.Context) (V, error)) {
	normalReturn := false
	defer func() {
		if !normalReturn {
			if r := recover(); r != nil {
				f.err = &PanicError{Key: key, Value: r, Stack: debug.Stack()}
			} else {
				f.err = fmt.Errorf("hoard: the load of %q called runtime.Goexit", key)
			}
		}
		f.cancel()
		g.mu.Lock()
		if g.flights[key] == f {
			delete(g.flights, key)
		}
		g.mu.Unlock()
		g.landed.Add(1)
		close(f.done)
	}()
	f.val, f.err = fn(ctx)
	normalReturn = true
}

// Forget makes the next Do of key start a new load even if one is running;
// the callers already waiting keep waiting for the running one.
func (g *FlightGroup[V]) Forget(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.flights, key)
}

// PanicError is the error every waiter of a load gets when the load panics.
type PanicError struct {
	Key   string // the key being loaded
	Value any    // what the load panicked with
	Stack []byte // the stack of the panicking goroutine
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("hoard: the load of %q panicked: %v\n\n%s", e.Key, e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error, so errors.Is and
// errors.As see through the panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

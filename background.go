package hoard

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"golang.org/x/sync/semaphore"
)

// backgroundLoads runs loads that outlive the call that started them (a
// soft timeout, a background refresh), at most one per key, and owns them:
// wait returns when they are all done. The zero value is ready to use.
//
// Loads may start while wait runs (the Aside stays usable during and after
// Close), so it is a count and a channel closed when the count drops to
// zero, not a sync.WaitGroup, whose Add must not race its Wait.
type backgroundLoads struct {
	mu sync.Mutex // guards running and idle
	// running holds, for each key with a load running, the function that
	// cancels its ctx.
	running map[string]context.CancelFunc
	// idle is closed when the last running load ends; nil while none runs.
	idle chan struct{}
	// panicked, when set, is told of a load that panicked. Set before the
	// first start.
	panicked func(*PanicError)
	// limit, when set, caps the loads running at once: past it start
	// refuses, and tells skipped. Set before the first start.
	limit   *semaphore.Weighted
	skipped func(key string)
}

// start runs fn in a goroutine unless a load of key is running already or
// the cap is reached; it reports whether it started one. fn gets ctx's values without its
// cancellation: it is canceled only by a wait that gives up.
func (b *backgroundLoads) start(ctx context.Context, key string, fn func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.running[key]; ok {
		return false
	}
	if b.limit != nil && !b.limit.TryAcquire(1) {
		if b.skipped != nil {
			b.skipped(key)
		}
		return false
	}
	if b.running == nil {
		b.running = make(map[string]context.CancelFunc)
	}
	if len(b.running) == 0 {
		b.idle = make(chan struct{})
	}
	// Not the read's skip mark either (see withSharedSkip): the work is
	// not that read, and a mark set by its hard timeout would keep a
	// refresh's write-back, or a retried release, from Redis for good.
	lctx, cancel := context.WithCancel(withoutSharedSkip(context.WithoutCancel(ctx)))
	b.running[key] = cancel
	go func() {
		defer b.done(key, cancel)
		if b.limit != nil {
			defer b.limit.Release(1)
		}
		defer func() {
			// A loader's panic in a background load has no waiter to reach:
			// it must not crash the process. It is counted, with its stack
			// kept for the count's hook.
			if r := recover(); r != nil && b.panicked != nil {
				b.panicked(&PanicError{Key: key, Value: r, Stack: debug.Stack()})
			}
		}()
		fn(lctx)
	}()
	return true
}

// done records the end of key's load.
func (b *backgroundLoads) done(key string, cancel context.CancelFunc) {
	cancel()
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.running, key)
	if len(b.running) == 0 {
		close(b.idle)
		b.idle = nil
	}
}

// wait waits until no load runs, or until ctx ends: it then cancels the
// loads still running (a loader that honours its ctx stops) and returns an
// error wrapping ctx's cause without waiting for them further.
func (b *backgroundLoads) wait(ctx context.Context) error {
	b.mu.Lock()
	idle := b.idle
	b.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	n := len(b.running)
	for _, cancel := range b.running {
		cancel()
	}
	b.mu.Unlock()
	return fmt.Errorf("hoard: %d background loads still running, canceled: %w", n, context.Cause(ctx))
}

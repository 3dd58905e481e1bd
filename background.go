package hoard

import (
	"context"
	"fmt"
	"sync"
)

// backgroundLoads runs loads that outlive the call that started them (a
// soft timeout, a background refresh), at most one per key, and owns them:
// wait returns when they are all done. The zero value is ready to use.
type backgroundLoads struct {
	mu      sync.Mutex          // guards running
	running map[string]struct{} // keys with a load running
	wg      sync.WaitGroup
}

// start runs fn in a goroutine unless a load of key is running already; it
// reports whether it started one.
func (b *backgroundLoads) start(key string, fn func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.running[key]; ok {
		return false
	}
	if b.running == nil {
		b.running = make(map[string]struct{})
	}
	b.running[key] = struct{}{}
	b.wg.Go(func() {
		defer func() {
			b.mu.Lock()
			delete(b.running, key)
			b.mu.Unlock()
		}()
		fn()
	})
	return true
}

// wait waits for every load running, or until ctx ends.
func (b *backgroundLoads) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hoard: background loads still running: %w", context.Cause(ctx))
	}
}

package memory

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/hoard-cache/hoard"
)

// counter is one IncrBy counter.
type counter struct{ n atomic.Int64 }

// IncrBy adds delta to the counter under key and returns the new value. A
// new counter starts from the current Unix time in microseconds (see
// hoard.Counter). Counters are bounded by Options.MaxCounters and are not
// touched by Delete, DeletePrefix or Clear.
func (c *Cache[V]) IncrBy(_ context.Context, key string, delta int64) (int64, error) {
	return c.counter(key, c.clock.Now().UnixMicro()).n.Add(delta), nil
}

// IncrAtLeast sets the counter under key to the larger of its value plus
// one and floor, and returns it (see hoard.FloorCounter). A new counter
// becomes floor.
func (c *Cache[V]) IncrAtLeast(_ context.Context, key string, floor int64) (int64, error) {
	if floor <= 0 {
		return 0, fmt.Errorf("%w: memory: IncrAtLeast %q: floor %d is not above 0", hoard.ErrInvalidOption, key, floor)
	}
	ctr := c.counter(key, floor-1) // a new counter: floor-1, so the step below makes it floor
	for {
		n := ctr.n.Load()
		next := max(n+1, floor)
		if ctr.n.CompareAndSwap(n, next) {
			return next, nil
		}
	}
}

// counter returns the counter under key, made with the value start if it
// does not exist.
func (c *Cache[V]) counter(key string, start int64) *counter {
	ctr, _ := c.counters.ComputeIfAbsent(key, func() (*counter, bool) {
		ctr := &counter{}
		ctr.n.Store(start)
		return ctr, false
	})
	return ctr
}

package memory

import (
	"context"
	"sync/atomic"
)

// counter is one IncrBy counter.
type counter struct{ n atomic.Int64 }

// IncrBy adds delta to the counter under key and returns the new value. A
// new counter starts from the current Unix time in microseconds (see
// hoard.Counter). Counters are bounded by Options.MaxCounters and are not
// touched by Delete, DeletePrefix or Clear.
func (c *Cache[V]) IncrBy(_ context.Context, key string, delta int64) (int64, error) {
	ctr, _ := c.counters.ComputeIfAbsent(key, func() (*counter, bool) {
		ctr := &counter{}
		ctr.n.Store(c.clock.Now().UnixMicro())
		return ctr, false
	})
	return ctr.n.Add(delta), nil
}

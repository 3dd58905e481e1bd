package hoardredis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hoard-cache/hoard"
)

// IncrBy adds delta to the counter under key (scripts/counter.lua). See
// [hoard.Counter].
func (c *Cache[V]) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	s, err := counterScript.Run(ctx, c.client, []string{key}, delta, c.opts.Clock.Now().UnixMicro(), c.counterTTLms()).Text()
	if err != nil {
		return 0, wrapErr("incrby", key, err)
	}
	return parseCount(key, s)
}

// IncrAtLeast sets the counter under key to the larger of its value plus
// one and floor, in one script (scripts/counter_floor.lua). See
// [hoard.FloorCounter].
func (c *Cache[V]) IncrAtLeast(ctx context.Context, key string, floor int64) (int64, error) {
	if floor <= 0 {
		return 0, fmt.Errorf("%w: redis: IncrAtLeast %q: floor %d is not above 0", hoard.ErrInvalidOption, key, floor)
	}
	s, err := counterFloorScript.Run(ctx, c.client, []string{key}, strconv.FormatInt(floor, 10), c.counterTTLms()).Text()
	if err != nil {
		return 0, wrapErr("incr at least", key, err)
	}
	return parseCount(key, s)
}

// counterTTLms is Options.CounterTTL in milliseconds for the counter
// scripts: 0 when counters never expire.
func (c *Cache[V]) counterTTLms() int64 {
	if c.opts.CounterTTL < 0 {
		return 0
	}
	return c.opts.CounterTTL.Milliseconds()
}

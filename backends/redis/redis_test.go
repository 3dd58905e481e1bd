package redis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard/backends/redis"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testMaxValue = 64 << 10

func newCache(t *testing.T, client goredis.UniversalClient, opts *redis.Options) *redis.Cache[hoardtest.Item] {
	t.Helper()
	if opts == nil {
		opts = &redis.Options{}
	}
	if opts.MaxValueBytes == 0 {
		opts.MaxValueBytes = testMaxValue
	}
	if opts.TombstoneTTL == 0 {
		opts.TombstoneTTL = 5 * time.Second // the suite's keys vanish soon after
	}
	c, err := redis.New[hoardtest.Item](client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformanceMiniredis(t *testing.T) {
	hoardtest.TestCache(t, func(t *testing.T) hoardtest.Subject {
		mr, client := redistest.Miniredis(t)
		clock := hoardtest.NewFakeClock(time.Now())
		return hoardtest.Subject{
			Cache: newCache(t, client, &redis.Options{Clock: clock}),
			Clock: clock,
			Advance: func(d time.Duration) {
				clock.Advance(d)
				mr.FastForward(d)
			},
			MaxValueBytes: testMaxValue,
		}
	})
}

func TestConformanceRealRedis(t *testing.T) {
	client := redistest.Real(t)
	hoardtest.TestCache(t, func(t *testing.T) hoardtest.Subject {
		return hoardtest.Subject{Cache: newCache(t, client, nil), MaxValueBytes: testMaxValue}
	})
}

func TestConformanceRedisCluster(t *testing.T) {
	client := redistest.Cluster(t)
	hoardtest.TestCache(t, func(t *testing.T) hoardtest.Subject {
		return hoardtest.Subject{Cache: newCache(t, client, nil), MaxValueBytes: testMaxValue}
	})
}

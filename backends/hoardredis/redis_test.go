package hoardredis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testMaxValue = 64 << 10

func newCache(t *testing.T, client goredis.UniversalClient, opts *hoardredis.Options) *hoardredis.Cache[hoardtest.Item] {
	t.Helper()
	if opts == nil {
		opts = &hoardredis.Options{}
	}
	if opts.MaxValueBytes == 0 {
		opts.MaxValueBytes = testMaxValue
	}
	if opts.TombstoneTTL == 0 {
		opts.TombstoneTTL = 5 * time.Second // the suite's keys vanish soon after
	}
	c, err := hoardredis.New[hoardtest.Item](client, opts)
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
			Cache: newCache(t, client, &hoardredis.Options{Clock: clock}),
			Clock: clock,
			Advance: func(d time.Duration) {
				clock.Advance(d)
				mr.FastForward(d)
			},
			MaxValueBytes: testMaxValue,
		}
	})
}

// cleanTagStamps deletes the tag stamps the suite leaves (they have no TTL:
// a lost stamp would revive what it invalidated).
func cleanTagStamps(t *testing.T, client goredis.UniversalClient) {
	t.Cleanup(func() { redistest.DeleteUnder(t, client, "{hoard:tags}:tag:hoardtest:") })
}

// deleteUnder is a Subject's DeleteUnder on client: the suite's entries
// and its counters.
func deleteUnder(client goredis.UniversalClient) func(t testing.TB, prefix string) {
	return func(t testing.TB, prefix string) { redistest.DeleteUnder(t, client, prefix) }
}

func TestConformanceRealRedis(t *testing.T) {
	client := redistest.Real(t)
	cleanTagStamps(t, client)
	hoardtest.TestCache(t, func(t *testing.T) hoardtest.Subject {
		return hoardtest.Subject{Cache: newCache(t, client, nil), MaxValueBytes: testMaxValue, DeleteUnder: deleteUnder(client)}
	})
}

func TestConformanceRedisCluster(t *testing.T) {
	client := redistest.Cluster(t)
	cleanTagStamps(t, client)
	hoardtest.TestCache(t, func(t *testing.T) hoardtest.Subject {
		return hoardtest.Subject{Cache: newCache(t, client, nil), MaxValueBytes: testMaxValue, DeleteUnder: deleteUnder(client)}
	})
}

package memory_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// benchKeys is how many keys the hit benchmarks cycle through; both caches
// are sized to hold exactly that many, as a user sizes a TTL cache.
const benchKeys = 10_000

// benchSink keeps the reads of the benchmarks observable.
var benchSink atomic.Int64

func benchKeySet() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "bench:item:" + strconv.Itoa(i)
	}
	return keys
}

// getter is one implementation under test: get reads key and reports the
// value's ID, or false on a miss. The implementations are distinct struct
// types (not closures or pointers), so each instantiation of the generic
// loops below calls its get directly, and neither side pays an indirect
// call that the other does not.
type getter interface {
	get(key string) (int, bool)
}

// hoardGet reads hoard's memory backend as the patterns do: through the
// hoard.Cache interface.
type hoardGet struct {
	ctx   context.Context
	cache hoard.Cache[hoardtest.Item]
}

func (g hoardGet) get(key string) (int, bool) {
	e, err := g.cache.Get(g.ctx, key)
	return e.Value.ID, err == nil
}

// otterGet reads a raw otter cache.
type otterGet struct {
	cache *otter.Cache[string, hoardtest.Item]
}

func (g otterGet) get(key string) (int, bool) {
	v, ok := g.cache.GetIfPresent(key)
	return v.ID, ok
}

// BenchmarkGetHit compares a hit in hoard's memory backend, called as the
// patterns call it (through the hoard.Cache interface), with a hit in a raw
// otter v2 cache configured as a user would configure a TTL cache of the
// same size and value type. The sub-benchmarks are named
// mode=serial|parallel/impl=hoard|otter so that `benchstat -col /impl`
// puts the two implementations side by side. Keys are built before timing
// and cycled in order; every read must hit.
func BenchmarkGetHit(b *testing.B) {
	keys := benchKeySet()
	for _, mode := range []string{"serial", "parallel"} {
		b.Run("mode="+mode+"/impl=hoard", func(b *testing.B) {
			run(b, mode, keys, newHoardGet(b, keys))
		})
		b.Run("mode="+mode+"/impl=otter", func(b *testing.B) {
			run(b, mode, keys, newOtterGet(b, keys))
		})
	}
}

func run[G getter](b *testing.B, mode string, keys []string, g G) {
	mustHitAll(b, keys, g)
	b.ReportAllocs()
	if mode == "serial" {
		benchSerial(b, keys, g)
	} else {
		benchParallel(b, keys, g)
	}
}

func newHoardGet(b *testing.B, keys []string) hoardGet {
	c, err := memory.New(&memory.Options[hoardtest.Item]{MaxEntries: len(keys)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	now := time.Now()
	for i, k := range keys {
		e := hoard.Entry[hoardtest.Item]{Value: hoardtest.RealisticItem(i), WrittenAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := c.Set(ctx, k, e); err != nil {
			b.Fatal(err)
		}
	}
	return hoardGet{ctx: ctx, cache: c}
}

func newOtterGet(b *testing.B, keys []string) otterGet {
	c, err := otter.New(&otter.Options[string, hoardtest.Item]{
		MaximumSize:      len(keys),
		ExpiryCalculator: otter.ExpiryWriting[string, hoardtest.Item](time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.StopAllGoroutines() })
	for i, k := range keys {
		c.Set(k, hoardtest.RealisticItem(i))
	}
	return otterGet{cache: c}
}

// mustHitAll checks, before timing, that every key is a hit.
func mustHitAll[G getter](b *testing.B, keys []string, g G) {
	b.Helper()
	for i, k := range keys {
		if id, ok := g.get(k); !ok || id != i {
			b.Fatalf("key %q: got id %d, hit %v; want id %d, hit", k, id, ok, i)
		}
	}
}

func benchSerial[G getter](b *testing.B, keys []string, g G) {
	var sum int64
	i := 0
	for b.Loop() {
		id, ok := g.get(keys[i])
		if !ok {
			b.Fatalf("miss on %q", keys[i])
		}
		sum += int64(id)
		if i++; i == len(keys) {
			i = 0
		}
	}
	benchSink.Add(sum)
}

func benchParallel[G getter](b *testing.B, keys []string, g G) {
	// Unlike b.Loop, RunParallel does not reset the timer: without this the
	// cache's setup would count, once for every b.N tried.
	b.ResetTimer()
	// Each goroutine starts at its own place in the key set, so they do
	// not read the same keys in lock step.
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919)) % len(keys)
		var sum int64
		for pb.Next() {
			id, ok := g.get(keys[i])
			if !ok {
				b.Errorf("miss on %q", keys[i])
				return
			}
			sum += int64(id)
			if i++; i == len(keys) {
				i = 0
			}
		}
		benchSink.Add(sum)
	})
}

package compare

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	"github.com/viccon/sturdyc"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// MemoryConfig shapes workload 7.
type MemoryConfig struct {
	Entries    int // default 100,000
	ValueBytes int // default 200
}

func (c *MemoryConfig) defaults() {
	c.Entries = cmpOr(c.Entries, 100_000)
	c.ValueBytes = cmpOr(c.ValueBytes, 200)
}

// OtterNoExpiry is otter with no expiry: a reference row of workload 7.
const OtterNoExpiry Lib = "otter, no expiry"

// MemoryResult is one library's heap per entry.
type MemoryResult struct {
	Lib      Lib
	Note     string
	Held     int     // entries the cache held after the fill
	PerEntry float64 // heap bytes per held entry, key and value included
	Err      error
}

var memoryLibs = []struct {
	lib  Lib
	note string
}{
	{Hoard, "memory backend filled through `Aside.Get` (entry metadata: times, generation, tags)"},
	{Otter, "`Set`, `ExpiryWriting`"},
	{OtterNoExpiry, "`Set`, no expiry: reference"},
	{Sturdyc, "`Set`, 10 shards"},
	{GoRedisCache, "`Set` into its TinyLFU local cache (no Redis); holds the encoded bytes"},
}

// Memory is workload 7: the heap a cache holds per entry, value (a
// ValueBytes-byte string, each its own) and key (the same length for
// every library) included: live heap after GC, before and after filling
// Entries entries, divided by the entries held. Capacities are Entries +
// 25%, so that nothing is evicted.
func Memory(ctx context.Context, cfg MemoryConfig) []MemoryResult {
	cfg.defaults()
	var out []MemoryResult
	for _, l := range memoryLibs {
		res := MemoryResult{Lib: l.lib, Note: l.note}
		res.PerEntry, res.Held, res.Err = measureHeap(func() (func(), int, error) { return fill(ctx, l.lib, &cfg) })
		out = append(out, res)
	}
	return out
}

// measureHeap runs fill and returns the live heap it added per entry held;
// fill returns what keeps its cache alive (called after the measure) and
// how many entries the cache holds.
func measureHeap(fill func() (func(), int, error)) (float64, int, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	done, held, err := fill()
	if err != nil {
		return 0, 0, err
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	done()
	if held == 0 {
		return 0, 0, nil
	}
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(held), held, nil
}

// value returns the i-th value: n bytes, each value its own allocation.
func value(base string, i int) string {
	b := []byte(base)
	copy(b, strconv.Itoa(i))
	return string(b)
}

func fill(ctx context.Context, lib Lib, cfg *MemoryConfig) (func(), int, error) {
	n, capacity := cfg.Entries, cfg.Entries+cfg.Entries/4
	base := strings.Repeat("v", cfg.ValueBytes)
	key := func(i int) string { return "m:" + strconv.Itoa(i) }
	switch lib {
	case Hoard:
		mem, err := memory.New(&memory.Options[string]{MaxEntries: capacity})
		if err != nil {
			return nil, 0, err
		}
		a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "m", Memory: mem, TTL: time.Hour})
		if err != nil {
			return nil, 0, err
		}
		loader := hoard.LoaderFunc[string](func(_ context.Context, id string) (string, error) {
			i, _ := strconv.Atoi(id)
			return value(base, i), nil
		})
		for i := range n {
			if _, err := a.Get(ctx, strconv.Itoa(i), loader); err != nil {
				return nil, 0, err
			}
		}
		mem.CleanUp()
		return func() { _ = a.Close(ctx); _ = mem.Close() }, mem.Len(), nil
	case Otter, OtterNoExpiry:
		o := &otter.Options[string, string]{MaximumSize: capacity}
		if lib == Otter {
			o.ExpiryCalculator = otter.ExpiryWriting[string, string](time.Hour)
		}
		c := otter.Must(o)
		for i := range n {
			c.Set(key(i), value(base, i))
		}
		c.CleanUp()
		return func() { c.StopAllGoroutines() }, c.EstimatedSize(), nil
	case Sturdyc:
		c := sturdyc.New[string](capacity, 10, time.Hour, 10)
		for i := range n {
			c.Set(key(i), value(base, i))
		}
		return func() { runtime.KeepAlive(c) }, c.Size(), nil
	case GoRedisCache:
		local := gocache.NewTinyLFU(capacity, time.Hour)
		c := gocache.New(&gocache.Options{LocalCache: local})
		for i := range n {
			if err := c.Set(&gocache.Item{Ctx: ctx, Key: key(i), Value: value(base, i)}); err != nil {
				return nil, 0, err
			}
		}
		held := 0
		for i := range n {
			if _, ok := local.Get(key(i)); ok {
				held++
			}
		}
		return func() { runtime.KeepAlive(c) }, held, nil
	}
	return nil, 0, errNoBench
}

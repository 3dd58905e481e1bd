package hoard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// benchItem is the value of the batch benchmarks: about 200 bytes as
// JSON, as bench/compare's Product.
type benchItem struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	PriceCents  int64    `json:"price_cents"`
	Stock       int32    `json:"stock"`
	Tags        []string `json:"tags"`
	Description string   `json:"description"`
}

var benchDescription = strings.Repeat("a sturdy kettle for every kitchen; ", 3)[:100]

func makeBenchItem(id string) benchItem {
	return benchItem{ID: id, Name: "product " + id, PriceCents: 1999, Stock: 42,
		Tags: []string{"kitchen", "kettle"}, Description: benchDescription}
}

func benchItems(_ context.Context, ids []string) (map[string]benchItem, error) {
	out := make(map[string]benchItem, len(ids))
	for _, id := range ids {
		out[id] = makeBenchItem(id)
	}
	return out, nil
}

// benchIDs returns n ids "p-0" … and the same ids under prefix, as keys.
func benchIDs(prefix string, n int) (ids, keys []string) {
	ids, keys = make([]string, n), make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint("p-", i)
		keys[i] = prefix + ids[i]
	}
	return ids, keys
}

// BenchmarkAsideGetManyMemory compares a GetMany of 100 ids, all in the
// memory tier, with otter's BulkGet of the same 100 keys on a cache set up
// as a user would (expire after write). Target (issue 15): at most 2x
// otter, and no allocation per id beyond the returned map.
func BenchmarkAsideGetManyMemory(b *testing.B) {
	const n, batch = 1024, 100
	mem, err := memory.New[benchItem](&memory.Options[benchItem]{MaxEntries: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[benchItem]{Name: "bench-many-mem", Memory: mem, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	oc := otter.Must(&otter.Options[string, benchItem]{MaximumSize: 10_000, ExpiryCalculator: otter.ExpiryWriting[string, benchItem](time.Hour)})
	defer oc.StopAllGoroutines()
	ids, keys := benchIDs("bench-many-mem:", n)
	ctx := context.Background()
	loader := hoard.BatchLoaderFunc[benchItem](benchItems)
	bulk := otter.BulkLoaderFunc[string, benchItem](func(_ context.Context, keys []string) (map[string]benchItem, error) {
		out := make(map[string]benchItem, len(keys))
		for _, k := range keys {
			out[k] = makeBenchItem(k)
		}
		return out, nil
	})
	for i := 0; i < n; i += batch {
		j := min(i+batch, n)
		if _, err := a.GetMany(ctx, ids[i:j], loader); err != nil {
			b.Fatal(err)
		}
		if _, err := oc.BulkGet(ctx, keys[i:j], bulk); err != nil {
			b.Fatal(err)
		}
	}
	before := a.Metrics().Snapshot().Total(hoard.EventLoad)
	b.Run("impl=aside", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			lo := (i * batch) % (n - batch + 1)
			if m, err := a.GetMany(ctx, ids[lo:lo+batch], loader); err != nil || len(m) != batch {
				b.Fatal(len(m), err)
			}
			i++
		}
	})
	if loads := a.Metrics().Snapshot().Total(hoard.EventLoad) - before; loads != 0 {
		b.Fatalf("%d loads in a hit benchmark", loads)
	}
	b.Run("impl=otter", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			lo := (i * batch) % (n - batch + 1)
			if m, err := oc.BulkGet(ctx, keys[lo:lo+batch], bulk); err != nil || len(m) != batch {
				b.Fatal(len(m), err)
			}
			i++
		}
	})
}

// BenchmarkAsideGetManyRedis compares a GetMany of 100 ids from the
// shared tier alone (real Redis, default JSON codec) with what a user
// writes by hand: one MGET of the keys and a json.Unmarshal of each value
// (as bench/compare's baseline: no map built). Target (issue 15): at most
// 1.05x.
func BenchmarkAsideGetManyRedis(b *testing.B) {
	client := redistest.Real(b)
	const batch = 100
	shared, err := hoardredis.New[benchItem](client, nil)
	if err != nil {
		b.Fatal(err)
	}
	name := uniqueName("bench-many-redis")
	a, err := hoard.NewAside(&hoard.AsideOptions[benchItem]{Name: name, Shared: shared, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ids, keys := benchIDs(name+":raw:", batch)
	if _, err := a.GetMany(ctx, ids, hoard.BatchLoaderFunc[benchItem](benchItems)); err != nil {
		b.Fatal(err)
	}
	for i, k := range keys {
		v, _ := json.Marshal(makeBenchItem(ids[i]))
		if err := client.Set(ctx, k, v, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		_ = a.Delete(context.Background(), ids...)
		client.Del(context.Background(), keys...)
	})
	never := hoard.BatchLoaderFunc[benchItem](func(context.Context, []string) (map[string]benchItem, error) {
		b.Error("a GetMany loaded")
		return nil, nil
	})
	b.Run("impl=aside", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := a.GetMany(ctx, ids, never); err != nil || len(m) != batch {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("impl=mget", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vals, err := client.MGet(ctx, keys...).Result()
			if err != nil {
				b.Fatal(err)
			}
			for _, v := range vals {
				var p benchItem
				if err := json.Unmarshal([]byte(v.(string)), &p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

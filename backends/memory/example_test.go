package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

type product struct {
	ID    int
	Name  string
	Price float64
}

func Example() {
	ctx := context.Background()
	cache, err := memory.New(&memory.Options[product]{MaxEntries: 10_000})
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	now := time.Now()
	_ = cache.Set(ctx, "product:42", hoard.Entry[product]{
		Value:     product{ID: 42, Name: "kettle", Price: 29.5},
		WrittenAt: now,
		ExpiresAt: now.Add(time.Minute),
	})
	e, err := cache.Get(ctx, "product:42")
	fmt.Println(e.Value.Name, e.IsFresh(time.Now()), err)

	_, err = cache.Get(ctx, "product:43")
	fmt.Println(err)
	// Output:
	// kettle true <nil>
	// hoard: not found
}

// A load that read a key before someone else wrote it cannot put its older
// value back: CompareAndSet refuses it.
func ExampleCache_CompareAndSet() {
	ctx := context.Background()
	cache, _ := memory.New[string](nil)
	defer cache.Close()

	_, token, _ := cache.GetWithToken(ctx, "user:7") // a miss: the loader starts
	_ = cache.Set(ctx, "user:7", hoard.Entry[string]{Value: "new name"})
	err := cache.CompareAndSet(ctx, "user:7", token, hoard.Entry[string]{Value: "old name"})
	e, _ := cache.Get(ctx, "user:7")
	fmt.Println(err)
	fmt.Println(e.Value)
	// Output:
	// hoard: conflict: key changed since token was taken: "user:7"
	// new name
}

// With both bounds, the cache holds at most MaxEntries entries and at most
// MaxBytes bytes as the weigher measures them.
func ExampleOptions() {
	cache, err := memory.New(&memory.Options[[]byte]{
		MaxEntries:    100_000,
		MaxBytes:      64 << 20,
		MaxValueBytes: 1 << 20,
	})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	err = cache.Set(context.Background(), "huge", hoard.Entry[[]byte]{Value: make([]byte, 2<<20)})
	fmt.Println(err)
	// Output:
	// hoard: too large: memory: entry "huge" is 2097156 bytes, more than MaxValueBytes 1048576
}

// A memory-only cache-aside is one call; its Close stops the memory tier too.
func ExampleNewAside() {
	ctx := context.Background()
	products, err := memory.NewAside("products", &hoard.AsideOptions[product]{TTL: time.Minute},
		&memory.Options[product]{MaxEntries: 10_000})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := products.Close(ctx); err != nil {
			fmt.Println(err)
		}
	}()
	byID := hoard.LoaderFunc[product](func(_ context.Context, id string) (product, error) {
		fmt.Println("database:", id)
		return product{ID: 42, Name: "kettle"}, nil
	})
	for range 2 {
		p, err := products.Get(ctx, "42", byID)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(p.Name)
	}
	fmt.Println(products.Memory().Len(), products.Metrics().Snapshot().Count(hoard.EventHit, hoard.TierMemory))
	// Output:
	// database: 42
	// kettle
	// kettle
	// 1 1
}

// Tag stamps that age out: a stamp older than TagStampTTL is dropped at
// the next InvalidateTags, and its tag then reads as the latest stamp
// dropped, so the entries it invalidated stay invalid.
func ExampleOptions_tagStampTTL() {
	clock := hoardtest.NewFakeClock(time.Now())
	c, _ := memory.New(&memory.Options[string]{TagStampTTL: time.Hour, Clock: clock})
	defer c.Close()
	ctx := context.Background()
	loaded, _ := c.Epoch(ctx) // an entry tagged category:7 loads now
	stamp, _ := c.InvalidateTags(ctx, "category:7")
	clock.Advance(time.Hour)
	_, _ = c.InvalidateTags(ctx, "category:8") // drops category:7's stamp
	got, _ := c.TagEpochs(ctx, []string{"category:7"})
	fmt.Println("the entry stays invalid:", got[0] >= stamp && got[0] > loaded)
	// Output:
	// the entry stays invalid: true
}

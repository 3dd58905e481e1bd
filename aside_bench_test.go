package hoard_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// BenchmarkAsideGetHit compares a cache-aside Get answered by the memory
// tier with a raw Get of the memory backend it wraps (same key, same
// value). Target: aside at most 2x raw, 0 allocs/op.
func BenchmarkAsideGetHit(b *testing.B) {
	const n = 1024
	mem, err := memory.New[Product](&memory.Options[Product]{MaxEntries: 10 * n})
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	a, err := hoard.NewAside(hoard.AsideOptions[Product]{Name: "products", Memory: mem})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ids := make([]string, n)
	keys := make([]string, n)
	load := hoard.LoaderFunc[Product](func(_ context.Context, id string) (Product, error) {
		return Product{ID: id, Name: "name-" + id}, nil
	})
	for i := range ids {
		ids[i] = fmt.Sprint(i)
		keys[i] = a.Key(ids[i])
		if _, err := a.Get(ctx, ids[i], load); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("impl=aside", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := a.Get(ctx, ids[i%n], load); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("impl=memory", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := mem.Get(ctx, keys[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

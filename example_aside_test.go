package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

type Product struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// productsTable stands in for a database table.
var productsTable = map[string]Product{
	"42": {ID: "42", Name: "kettle"},
	"43": {ID: "43", Name: "teapot"},
}

func ExampleAside_Get() {
	mem, _ := memory.New[Product](nil)
	defer mem.Close()
	products, err := hoard.NewAside(&hoard.AsideOptions[Product]{
		Name:        "products",
		Memory:      mem,
		TTL:         10 * time.Minute,
		NegativeTTL: time.Minute,
	})
	if err != nil {
		panic(err)
	}
	queries := 0
	byID := hoard.LoaderFunc[Product](func(ctx context.Context, id string) (Product, error) {
		queries++
		p, ok := productsTable[id]
		if !ok {
			return Product{}, hoard.ErrNotFound // cached for NegativeTTL
		}
		return p, nil
	})
	ctx := context.Background()
	for range 3 {
		p, _ := products.Get(ctx, "42", byID)
		fmt.Println(p.Name)
	}
	for range 3 {
		_, err := products.Get(ctx, "999", byID)
		fmt.Println(errors.Is(err, hoard.ErrNotFound))
	}
	fmt.Println("queries:", queries)
	fmt.Printf("hit rate: %.2f\n", products.Metrics().Snapshot().HitRate())
	// Output:
	// kettle
	// kettle
	// kettle
	// true
	// true
	// true
	// queries: 2
	// hit rate: 0.67
}

func ExampleAside_GetMany() {
	mem, _ := memory.New[Product](nil)
	defer mem.Close()
	products, _ := hoard.NewAside(&hoard.AsideOptions[Product]{Name: "products", Memory: mem})
	byIDs := hoard.BatchLoaderFunc[Product](func(ctx context.Context, ids []string) (map[string]Product, error) {
		fmt.Println("SELECT ... WHERE id IN", ids)
		out := map[string]Product{}
		for _, id := range ids {
			if p, ok := productsTable[id]; ok {
				out[id] = p
			}
		}
		return out, nil
	})
	ctx := context.Background()
	_, _ = products.GetMany(ctx, []string{"42"}, byIDs)
	got, _ := products.GetMany(ctx, []string{"42", "43", "44"}, byIDs) // only 43 and 44 are loaded
	names := []string{}
	for _, p := range got {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	fmt.Println(names)
	// Output:
	// SELECT ... WHERE id IN [42]
	// SELECT ... WHERE id IN [43 44]
	// [kettle teapot]
}

// Four service instances share one Redis; with a Locker, a burst of
// readers of a missing key costs one query across all of them.
func ExampleAsideOptions_distributed() {
	mr, _ := miniredis.Run()
	defer mr.Close()

	var queries atomic.Int64
	slowQuery := hoard.LoaderFunc[Product](func(ctx context.Context, id string) (Product, error) {
		queries.Add(1)
		time.Sleep(50 * time.Millisecond)
		return productsTable[id], nil
	})
	var instances []*hoard.Aside[Product]
	for range 4 {
		client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()}) // one per process
		defer client.Close()
		mem, _ := memory.New[Product](nil)
		defer mem.Close()
		shared, _ := hoardredis.New[Product](client, nil)
		locker, _ := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: "lock:"})
		a, _ := hoard.NewAside(&hoard.AsideOptions[Product]{
			Name: "products", Memory: mem, Shared: shared, Stampede: &hoard.Stampede{Locker: locker},
		})
		instances = append(instances, a)
	}
	var wg sync.WaitGroup
	for _, a := range instances {
		for range 50 {
			wg.Go(func() { _, _ = a.Get(context.Background(), "42", slowQuery) })
		}
	}
	wg.Wait()
	fmt.Println("readers: 200, queries:", queries.Load())
	// Output:
	// readers: 200, queries: 1
}

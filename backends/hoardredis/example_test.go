package hoardredis_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

type product struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func Example() {
	mr, _ := miniredis.Run() // any Redis: a server, Sentinel, or a Cluster
	defer mr.Close()
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	defer client.Close()

	cache, err := hoardredis.New[product](client, &hoardredis.Options{Codec: hoard.JSON})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	now := time.Now()
	_ = cache.Set(ctx, "product:42", hoard.Entry[product]{
		Value:     product{ID: 42, Name: "kettle"},
		WrittenAt: now,
		ExpiresAt: now.Add(time.Minute),
		Tags:      []string{"category:7"},
	})
	e, _ := cache.Get(ctx, "product:42")
	// Redis keeps the entry ExpiredGrace (10s) past its expiry; readers
	// see it absent from the minute on. (Rounded: a busy machine may take
	// a millisecond between time.Now above and the write.)
	fmt.Println(e.Value.Name, e.Tags, mr.TTL("product:42").Round(time.Second))

	found, _ := cache.GetMany(ctx, []string{"product:42", "product:43"})
	fmt.Println(len(found))
	// Output:
	// kettle [category:7] 1m10s
	// 1
}

// Tag stamps that age out: each InvalidateTags stamps its tags for
// TagStampTTL; once a stamp has expired, its tag still reads at least as
// late as it was, so an entry it invalidated stays invalid.
func ExampleOptions_tagStampTTL() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	now := time.Now()
	mr.SetTime(now) // the tag scripts read Redis's clock (TIME)
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	defer client.Close()
	clock, err := hoardredis.New[struct{}](client, &hoardredis.Options{TagPrefix: "shop:{tags}", TagStampTTL: time.Hour})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	loaded, _ := clock.Epoch(ctx) // an entry tagged category:7 loads now
	stamp, _ := clock.InvalidateTags(ctx, "category:7")
	fmt.Println("stamp kept for", mr.TTL("shop:{tags}:tag:category:7"))

	mr.SetTime(now.Add(time.Hour)) // an hour on: the stamp expires
	mr.FastForward(time.Hour)
	got, _ := clock.TagEpochs(ctx, []string{"category:7"})
	fmt.Println("stamp gone:", !mr.Exists("shop:{tags}:tag:category:7"))
	fmt.Println("the entry stays invalid:", got[0] >= stamp && got[0] > loaded)
	// Output:
	// stamp kept for 1h0m0s
	// stamp gone: true
	// the entry stays invalid: true
}

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

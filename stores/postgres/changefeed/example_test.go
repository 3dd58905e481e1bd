package changefeed_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

type user struct{ Name string }

// A feed beside an application's caches (see newFeed).
func Example() {
	mr, err := miniredis.Run() // any Redis
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mr.Close()
	ctx := context.Background()
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	defer client.Close()
	svc, err := hoardredis.NewService(ctx, client, "shop", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close(ctx)
	users, err := hoardredis.NewAside(svc, "users", &hoard.AsideOptions[user]{TTL: time.Hour, Namespace: "users"})
	if err != nil {
		fmt.Println(err)
		return
	}

	feed, err := newFeed(svc, users)
	if err != nil {
		fmt.Println(err)
		return
	}
	// In a service: go feed.Run(ctx), stopped with the service's context.
	fmt.Println("feed ready:", !feed.Stats().Active)
	// Output: feed ready: true
}

// readme:begin changefeed
// newFeed follows public.users: a row changed by anyone is deleted from the
// users cache in Redis, and from every instance's memory through the bus.
// Every instance runs it (go feed.Run(ctx)); one consumes the slot at a time.
func newFeed(svc *hoardredis.Service, users *hoard.Aside[user]) (*changefeed.Feed, error) {
	return changefeed.New(changefeed.Options{
		ConnString: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", // a role with REPLICATION
		Slot:       "shop_users",                                              // also the publication's and the lease's name
		Tables: []changefeed.Table{{
			Name: "public.users",
			IDs:  func(r changefeed.Row) []string { return []string{r["id"]} }, // the primary key: in every change
		}},
		Sink: changefeed.SinkFuncs{
			Delete: users.Delete, // Redis, then every instance through the bus
			FlushAll: func(ctx context.Context) error { // a new slot: what changed before it is unknown
				_, err := svc.Invalidator().BumpNamespace(ctx, "users")
				return err
			},
		},
	})
}

// readme:end

// Retiring a feed: once no instance runs it any more (the tables are no
// longer cached), Drop removes its slot, which would otherwise keep WAL
// on the server for good, its publication and its state row.
func ExampleDrop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := changefeed.Drop(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "shop_users"); err != nil {
		fmt.Println(err)
	}
}
